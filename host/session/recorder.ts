import { existsSync, readFileSync, rmSync } from 'node:fs';
import type { Message, Script, Session } from 'frida';
import { CaptureWriter } from '../capture/writer.js';
import { UserError } from '../cli/errors.js';
import type { EndMessage, MetaMessage } from '../format/layout.generated.js';
import type { AgentInfo, AgentMessage, AgentOptions, ApiOptions } from '../format/protocol.generated.js';
import { ApiPrototype } from '../format/layout.generated.js';
import { prototypeEntry, type Prototype } from '../symbols/prototypes.js';
import { LiveIngest } from '../ingest/live-ingest.js';
import { packagePath } from '../paths.js';
import { describeDevice, resolveDevice, type DeviceChoice } from './device.js';
import { loadFrida } from './frida.js';
import { progressLine, RecordingStats } from './progress.js';
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
  /** Where progress and notes go; progress is shown only when this is a terminal. */
  log: NodeJS.WriteStream;
}

export interface RecordOutcome {
  output: string;
  capture: string | null;
  end: Omit<EndMessage, 'type' | 'endedAt'>;
  events: number;
  lost: number;
  skippedSites: number;
}

type Ending = { reason: EndMessage['reason']; detail?: string };

/** Why a recording stops: the first of these to happen. */
class Stop {
  private resolveEnding!: (e: Ending) => void;
  readonly ending = new Promise<Ending>((resolve) => (this.resolveEnding = resolve));
  private done = false;
  fatal: string | null = null;

  end(e: Ending): void {
    if (this.done) return;
    this.done = true;
    this.resolveEnding(e);
  }
}

/** The trace's options say how --apis was asked for; the prototypes go in their own frame. */
const describeApis = ({ prototypes, unknown, ...rest }: ApiOptions) => ({ ...rest, unknownArgs: unknown[ApiPrototype.argc] });

function capturePathFor(output: string): string {
  return `${output.replace(/\.db$/, '')}.stcap`;
}

/**
 * Records a target: the agent's messages go to the capture file first, and a worker ingests
 * the capture into the trace database as it grows. Ends on Ctrl+C, --duration, the target's
 * exit or crash, or a detach; every ring is flushed before the end frame is written.
 */
export async function record(o: RecordOptions): Promise<RecordOutcome> {
  const capturePath = capturePathFor(o.output);
  for (const path of [o.output, capturePath]) {
    if (existsSync(path)) throw new UserError(`${path} already exists; choose another --output`);
  }
  const frida = await loadFrida();
  const device = await resolveDevice(frida, o.device);
  const target = await openTarget(device, o.target);
  const stop = new Stop();
  const stats = new RecordingStats();
  let capture: CaptureWriter | null = null;
  let ingest: LiveIngest | null = null;
  let lastFault: string | null = null;
  let exitStatus: number | null = null;
  let script: Script;

  const onMessage = (message: Message, data: Buffer | null) => {
    if (message.type === 'error') {
      stop.fatal = `the agent failed: ${message.description}`;
      stop.end({ reason: 'detached', detail: stop.fatal });
      return;
    }
    const m = message.payload as AgentMessage;
    switch (m.type) {
      case 'meta':
        capture?.appendMeta(m.message as unknown as MetaMessage);
        break;
      case 'events':
        if (data === null || capture === null) break;
        capture.appendEvents(data);
        stats.add(data);
        break;
      case 'func-hooked':
        o.log.write(`hooked ${m.name} at ${m.address}\n`);
        break;
      case 'fatal':
        stop.fatal = m.reason;
        stop.end({ reason: 'detached', detail: m.reason });
        break;
      case 'crash':
        lastFault = m.detail;
        script.post({ type: 'crash-ack' });
        break;
      case 'exiting':
        exitStatus = m.status;
        script.post({ type: 'exit-ack' });
        break;
    }
    if (capture !== null) ingest?.grown(capture.bytesWritten);
  };

  const session: Session = target.session;
  session.detached.connect((reason, crash) => {
    if (reason === 'application-requested') return;
    if (crash !== null || (reason === 'process-terminated' && lastFault !== null && exitStatus === null)) {
      stop.end({ reason: 'crashed', detail: lastFault ?? crash?.summary ?? 'the process crashed' });
    } else if (reason === 'process-terminated') {
      stop.end({ reason: 'exited', detail: exitStatus === null ? 'the process ended' : `exit status ${exitStatus}` });
    } else {
      stop.end({ reason: 'detached', detail: reason });
    }
  });

  let info: AgentInfo;
  try {
    script = await session.createScript(readFileSync(packagePath('dist', 'agent.js'), 'utf8'));
    script.message.connect(onMessage);
    await script.load();
    info = await script.exports.init({ ...o.agent, spawned: target.spawned }) as AgentInfo;
  } catch (e) {
    await session.detach().catch(() => {});
    if (target.spawned) await device.kill(target.pid).catch(() => {});
    throw new UserError(`the agent could not start in ${target.name}: ${(e as Error).message}`);
  }

  capture = CaptureWriter.create(capturePath, { arch: info.arch as 'x64', pointerSize: info.pointerSize });
  capture.appendMeta({
    type: 'trace', target: target.name, pid: target.pid, device: describeDevice(device), arch: info.arch as 'x64',
    pointerSize: info.pointerSize, platform: info.platform, fridaVersion: info.fridaVersion,
    options: { ...o.agent, apis: o.agent.apis === null ? null : describeApis(o.agent.apis) }, startedAt: new Date().toISOString(),
  });
  if (o.prototypes !== null) capture.appendMeta({ type: 'apis', prototypes: o.prototypes.map(prototypeEntry) });
  ingest = new LiveIngest(capturePath, o.output, (w) => o.log.write(`warning: ${w}\n`));
  ingest.finished.catch(() => {});

  const started = Date.now();
  const onSigint = () => stop.end({ reason: 'interrupted' });
  process.on('SIGINT', onSigint);
  const timers: ReturnType<typeof setTimeout>[] = [];
  if (o.durationMs !== undefined) timers.push(setTimeout(() => stop.end({ reason: 'duration' }), o.durationMs));
  const tty = o.log.isTTY === true;
  if (tty) timers.push(setInterval(() => o.log.write(`\r${progressLine(stats, ingest!.stored, Date.now() - started)}\x1b[K`), 250));

  let skippedSites = 0;
  try {
    await script.exports.start();
    if (target.spawned) await device.resume(target.pid);
    const ending = await stop.ending;
    if (ending.reason === 'interrupted' || ending.reason === 'duration' || stop.fatal !== null) {
      skippedSites = await script.exports.stop().then((n) => n as number).catch(() => 0);
      await session.detach().catch(() => {});
      if (target.spawned) await device.kill(target.pid).catch(() => {});
    }
    capture.appendMeta({ type: 'end', reason: ending.reason, ...(ending.detail ? { detail: ending.detail } : {}), endedAt: new Date().toISOString() });
  } finally {
    process.off('SIGINT', onSigint);
    for (const t of timers) clearTimeout(t);
    if (tty) o.log.write('\r\x1b[K');
    capture.close();
  }
  await ingest.finish(capture.bytesWritten).catch((e: Error) => {
    throw new UserError(`${o.output} could not be finished (${e.message}); everything recorded is in ${capturePath}: run \`stalk-trace ingest ${capturePath} -o ${o.output}\``);
  });
  if (!o.keepCapture) rmSync(capturePath);
  if (stop.fatal !== null) throw new UserError(`${stop.fatal} (what was recorded is in ${o.output})`);
  const ending = await stop.ending;
  return {
    output: o.output, capture: o.keepCapture ? capturePath : null, end: ending, events: stats.events, lost: stats.lost, skippedSites,
  };
}
