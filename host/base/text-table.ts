/**
 * A name as one line of text: a symbol or thread name may hold a newline, a tab or another
 * control character, which would break a table row, a folded stack or a quoted name; they are
 * written as escapes instead (\n, \t, \x1b), and so is a backslash.
 */
export function printable(name: string): string {
  return name.replace(/[\\\x00-\x1f\x7f]/g, (c) => {
    if (c === '\\') return '\\\\';
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** A name between double quotes, with quotes inside escaped: `thread 7 "say \"hi\""`. */
export const quoted = (name: string) => `"${printable(name).replace(/"/g, '\\"')}"`;

/** Aligned text columns; `right` marks the numeric ones. */
export function table(header: string[], rows: string[][], right: boolean[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}
