import { spawnSync } from 'node:child_process';
import { CLI } from '../helpers.js';
import { report } from './report.js';

/** Wall time of a Node process, best of 5: start-up is what every command pays. */
function processMs(args: string[]): number {
  return Math.min(...Array.from({ length: 5 }, () => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`node ${args.join(' ')}: ${r.stderr}`);
    return performance.now() - t0;
  }));
}

/** Our start-up beside Node's own and beside loading the command-line parser alone, in the same run. */
export function startupBench(): void {
  const node = processMs(['-e', '0']);
  const parser = processMs(['--input-type=module', '-e', "await import('yargs'); await import('yargs/helpers')"]);
  const rows = [
    ['node -e 0', node],
    ['node, loading yargs only', parser],
    ['stalk-trace --version', processMs([CLI, '--version'])],
    ['stalk-trace query --list', processMs([CLI, 'query', '--list'])],
  ].map(([label, ms]) => [label as string, `${(ms as number).toFixed(0)} ms`, `${((ms as number) - node).toFixed(0)} ms`]);
  report('start-up (best of 5)', ['process', 'wall', 'above node -e 0'], rows);
  console.log('target: stalk-trace --version under 150 ms');
}
