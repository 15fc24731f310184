import { table } from '../../host/base/text-table.js';

export const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
export const rate = (perSecond: number) => `${Math.round(perSecond).toLocaleString('en-US')}/s`;

export function report(title: string, header: string[], rows: string[][]): void {
  console.log(`\n== ${title}`);
  console.log(table(header, rows, header.map((_, i) => i > 0)).join('\n'));
}
