import { constants } from 'node:os';
import type { AgentOptions } from '../schema/protocol.generated.js';
import type { Prototype } from '../symbols/prototypes.js';
import { localFridaLosingAvx512, withoutAvx512 } from './avx512.js';
import { resolveDevice, type DeviceChoice } from './device.js';
import { loadFrida } from './frida.js';
import { capturePathFor, checkOutputFree, ProcessRecording, type Ending } from './process-recording.js';
import { progressLine } from './progress.js';
import { openTarget, type TargetChoice } from './target.js';

export interface RecordOptions {
  device: DeviceChoice;
  target: TargetChoice;
  agent: Omit<AgentOptions, 'spawned'>;
  /** --apis: the prototypes arguments are decoded with, kept in the trace. */
  prototypes: Prototype[] | null;
  output: string;
  durationMs?: number;
  keepCapture: boolean;
  /** How events leave the target where it runs on this machine; elsewhere they always come in messages. */
  transport: 'file' | 'messages';
  /** Where progress and notes go; progress is shown only when this is a terminal. */
  log: NodeJS.WriteStream;
}

export interface RecordOutcome {
  output: string;
  capture: string | null;
  end: Ending;
  events: number;
  lost: number;
  skippedSites: number;
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
const REPEAT_MS = 500;

/**
 * Records a target into a trace. Ends on Ctrl+C, --duration, or the target's exit, crash or
 * detach; every ring is flushed before the end frame is written.
 */
export async function record(o: RecordOptions): Promise<RecordOutcome> {
  checkOutputFree(o.output);
  const frida = await loadFrida();
  const device = await resolveDevice(frida, o.device);
  const lossyFrida = device.type === 'local' ? localFridaLosingAvx512() : null;
  const tunables = withoutAvx512(process.env.GLIBC_TUNABLES);
  const target = await openTarget(device, o.target, lossyFrida !== null ? { GLIBC_TUNABLES: tunables } : {});
  if (lossyFrida !== null) {
    const loses = `Frida ${lossyFrida} does not keep this CPU's AVX-512 registers across Stalker's code (fixed in 17.16.0)`;
    o.log.write(target.spawned
      ? `note: ${loses}: ${target.name} runs with GLIBC_TUNABLES=${tunables}, so that glibc's functions leave them alone\n`
      : `warning: ${loses}: while followed, ${target.name} may compute wrong results where it keeps values in them (glibc's string functions do); use Frida 17.16.0 or later, or start it with -f\n`);
  }
  const transport = device.type === 'local' ? o.transport : 'messages';
  const recording = new ProcessRecording({ device, agent: o.agent, prototypes: o.prototypes, keepCapture: o.keepCapture, transport, log: o.log }, target, o.output);

  const started = Date.now();
  // The first Ctrl+C (or SIGTERM) ends the recording cleanly; a second one leaves at once,
  // keeping the capture, from which `ingest` makes the trace. One press can arrive twice (timeout(1)
  // signals the child and its process group): a repeat within REPEAT_MS is the same one.
  let signalledAt: number | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalledAt === null) {
      signalledAt = Date.now();
      recording.end({ reason: 'interrupted' });
      return;
    }
    if (Date.now() - signalledAt < REPEAT_MS) return;
    const capture = capturePathFor(o.output);
    o.log.write(`\nstalk-trace: stopped at once; everything recorded is in ${capture}: run \`stalk-trace ingest ${capture} -o ${o.output}\`\n`);
    process.exit(128 + constants.signals[signal]);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  try {
    const timers: ReturnType<typeof setTimeout>[] = [];
    if (o.durationMs !== undefined) timers.push(setTimeout(() => recording.end({ reason: 'duration' }), o.durationMs));
    const tty = o.log.isTTY === true;
    if (tty) timers.push(setInterval(() => o.log.write(`\r${progressLine(recording.stats, recording.stored, Date.now() - started)}\x1b[K`), 250));
    try {
      await recording.start();
      await recording.ending;
    } finally {
      for (const t of timers) clearTimeout(t);
      if (tty) o.log.write('\r\x1b[K');
    }
    const end = await recording.finish();
    return {
      output: o.output, capture: o.keepCapture ? capturePathFor(o.output) : null, end, events: recording.stats.events,
      lost: recording.stats.lost, skippedSites: recording.skippedSites,
    };
  } finally {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  }
}
