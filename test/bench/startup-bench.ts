import { spawnSync } from 'node:child_process';
import { packagePath } from '../../host/base/paths.js';
import { CLI } from '../helpers.js';
import { report } from './report.js';

const RUNS = 15;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

/** Wall time of one Node process. */
function processMs(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')}: ${r.stderr}`);
  return performance.now() - t0;
}

/**
 * Our start-up beside Node's own, beside loading the command-line parser alone and beside the
 * same command line unbundled, in the same run: the processes take turns, so a busy spell of the
 * machine weighs on each alike, and each one's median is shown.
 */
export function startupBench(): void {
  const cases: [string, string[]][] = [
    ['node -e 0', ['-e', '0']],
    ['node, loading yargs only', ['--input-type=module', '-e', "await import('yargs'); await import('yargs/helpers')"]],
    ['unbundled (dist/host/cli/main.js) --version', [packagePath('dist', 'host', 'cli', 'main.js'), '--version']],
    ['stalk-trace --version', [CLI, '--version']],
    ['stalk-trace --help', [CLI, '--help']],
    ['stalk-trace query --list', [CLI, 'query', '--list']],
  ];
  const times = cases.map((): number[] => []);
  for (let run = 0; run < RUNS; run++) cases.forEach(([, args], i) => times[i].push(processMs(args)));
  const node = median(times[0]);
  const rows = cases.map(([label], i) => {
    const ms = median(times[i]);
    return [label, `${ms.toFixed(0)} ms`, `${(ms - node).toFixed(0)} ms`];
  });
  report(`start-up (median of ${RUNS})`, ['process', 'wall', 'above node -e 0'], rows);
  console.log('target: stalk-trace --version under 150 ms');
}
