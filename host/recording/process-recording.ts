import { closeSync, constants, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Device, Message, Script, Session } from 'frida';
import { CaptureWriter } from '../capture/writer.js';
import { FrameFollower } from '../capture/frame-follower.js';
import { UserError } from '../base/errors.js';
import { ApiPrototype, type EndMessage } from '../schema/layout.generated.js';
import { CaptureWriteError, type AgentInfo, type AgentMessage, type AgentOptions, type ApiOptions, type StartInfo } from '../schema/protocol.generated.js';
import { errnoOf } from '../symbols/syscall-table.js';
import { LiveIngest } from '../ingest/live-ingest.js';
import { packagePath } from '../base/paths.js';
import { prototypeEntry, type Prototype } from '../symbols/prototypes.js';
import { describeDevice } from './device.js';
import { RecordingStats } from './progress.js';

export type Ending = { reason: EndMessage['reason']; detail?: string };

/** What every process of a recording is recorded with. */
export interface RecordingSetup {
  device: Device;
  agent: Omit<AgentOptions, 'spawned'>;
  /** --apis: the prototypes arguments are decoded with, kept in the trace. */
  prototypes: Prototype[] | null;
  keepCapture: boolean;
  /**
   * How event chunks travel: `file` where the device is this machine, the agent appends them to
   * the capture itself (where it can open the file, and this process its link), else in messages.
   */
  transport: 'file' | 'messages';
  log: NodeJS.WriteStream;
}

/** The process to record, attached, and whether it waits to be resumed. */
export interface AttachedProcess {
  session: Session;
  pid: number;
  name: string;
  spawned: boolean;
}

const TIMED_OUT = Symbol('timed out');
const STOP_MS = 5000;
const DETACH_MS = 1000;
/** How often the frames the agent appended are looked for, for the progress line and the live ingest. */
const FOLLOW_MS = 100;

/** The promise's value, or TIMED_OUT if it takes longer than `ms`; a rejection counts as settled (undefined). */
function within<T>(ms: number, promise: Promise<T>): Promise<T | undefined | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), ms)));
  return Promise.race([promise.catch(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

/** The trace's options say how --apis was asked for; the prototypes go in their own frame. */
const describeApis = ({ prototypes, unknown, ...rest }: ApiOptions) => ({ ...rest, unknownArgs: unknown[ApiPrototype.argc] });

export const capturePathFor = (output: string) => `${output.replace(/\.db$/, '')}.stcap`;

/** Refuses to write over a trace or a capture already there. */
export function checkOutputFree(output: string): void {
  for (const path of [output, capturePathFor(output)]) {
    if (existsSync(path)) throw new UserError(`${path} already exists; choose another --output`);
  }
}

/**
 * One process recorded into one trace: the agent's messages go to the capture file first, and a
 * worker ingests the capture into the database as it grows. `ending` settles with the first
 * reason to stop: the process's exit or crash, a detach, a fatal agent error, or end() (Ctrl+C,
 * --duration).
 */
export class ProcessRecording {
  readonly stats = new RecordingStats();
  readonly ending: Promise<Ending>;
  fatal: string | null = null;
  skippedSites = 0;
  private settle!: (e: Ending) => void;
  private settled = false;
  private script: Script | null = null;
  private capture: CaptureWriter | null = null;
  private ingest: LiveIngest | null = null;
  private lastFault: string | null = null;
  private exitStatus: number | null = null;
  /** The agent appends event frames to the capture itself: where they end, and the link it checks this process by. */
  private follower: FrameFollower | null = null;
  private link: number | null = null;
  private followTimer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly setup: RecordingSetup, private readonly target: AttachedProcess, private readonly output: string) {
    this.ending = new Promise((resolve) => (this.settle = resolve));
    target.session.detached.connect((reason, crash) => {
      if (reason === 'application-requested') return;
      if (crash !== null || (reason === 'process-terminated' && this.lastFault !== null && this.exitStatus === null)) {
        this.end({ reason: 'crashed', detail: this.lastFault ?? crash?.summary ?? 'the process crashed' });
      } else if (reason === 'process-terminated') {
        this.end({ reason: 'exited', detail: this.exitStatus === null ? 'the process ended' : `exit status ${this.exitStatus}` });
      } else {
        this.end({ reason: 'detached', detail: reason });
      }
    });
  }

  get stored(): number {
    return this.ingest?.stored ?? 0;
  }

  end(e: Ending): void {
    if (this.settled) return;
    this.settled = true;
    this.settle(e);
  }

  /** Where the capture's whole frames end: the agent may be appending one beside this process. */
  private wholeEnd(): number {
    return this.follower?.advance() ?? this.capture!.size;
  }

  private grown(): void {
    if (this.capture !== null) this.ingest?.grown(this.wholeEnd());
  }

  private act(message: Message, data: Buffer | null): void {
    if (message.type === 'error') {
      this.fatal = `the agent failed: ${message.description}`;
      this.end({ reason: 'detached', detail: this.fatal });
      return;
    }
    const m = message.payload as AgentMessage;
    switch (m.type) {
      case 'meta':
        this.capture?.appendMeta(m.message);
        break;
      case 'events':
        if (data === null || this.capture === null) break;
        this.capture.appendEvents(data);
        this.stats.add(data);
        break;
      case 'func-hooked':
        this.setup.log.write(`hooked ${m.name} at ${m.address} in ${this.target.name} (pid ${this.target.pid})\n`);
        break;
      case 'fatal':
        this.fatal = m.reason;
        this.end({ reason: 'detached', detail: m.reason });
        break;
      case 'capture-failed': {
        const why = m.error === CaptureWriteError.cutShort ? 'a write was cut short (is its disk full?)' : errnoText(m.error);
        this.fatal = `${this.target.name} could not append its events to ${capturePathFor(this.output)}: ${why}`;
        this.end({ reason: 'detached', detail: this.fatal });
        break;
      }
      case 'crash':
        this.lastFault = m.detail;
        this.script?.post({ type: 'crash-ack' });
        break;
      case 'exiting':
        this.exitStatus = m.status;
        this.skippedSites = m.skippedSites;
        this.script?.post({ type: 'exit-ack' });
        break;
    }
    this.grown();
  }

  /** Loads the agent, opens the capture and the trace, starts recording and lets the process run. */
  async start(): Promise<void> {
    const { device, agent, prototypes, log } = this.setup;
    const { session, pid, name, spawned } = this.target;
    let info: AgentInfo;
    try {
      this.script = await session.createScript(readFileSync(packagePath('dist', 'agent.js'), 'utf8'));
      // On the local device what the agent appended before a message is in the file already: a meta frame goes after it.
      this.script.message.connect((m, data) => this.act(m, data));
      await this.script.load();
      info = await this.script.exports.init({ ...agent, spawned }) as AgentInfo;
    } catch (e) {
      await session.detach().catch(() => {});
      if (spawned) await device.kill(pid).catch(() => {});
      throw new UserError(`the agent could not start in ${name}: ${(e as Error).message}`);
    }
    const capturePath = capturePathFor(this.output);
    this.capture = CaptureWriter.create(capturePath, { arch: info.arch, pointerSize: info.pointerSize });
    this.capture.appendMeta({
      type: 'trace', target: name, pid, device: describeDevice(device), arch: info.arch,
      pointerSize: info.pointerSize, platform: info.platform, fridaVersion: info.fridaVersion,
      options: { ...agent, apis: agent.apis === null ? null : describeApis(agent.apis) }, startedAt: new Date().toISOString(),
    });
    if (prototypes !== null) this.capture.appendMeta({ type: 'apis', prototypes: prototypes.map(prototypeEntry) });
    this.ingest = new LiveIngest(capturePath, this.output, (w) => log.write(`warning: ${w}\n`));
    this.ingest.finished.catch(() => {});
    const direct = this.setup.transport === 'file' && await this.openDirect(capturePath);
    const started = await this.script.exports.start(direct) as StartInfo;
    if (direct) this.followTimer = setInterval(() => this.follow(), FOLLOW_MS);
    if (!spawned) return;
    await device.resume(pid);
    if (started.mainFollowedFrom === 'resume') {
      log.write(`note: ${name} has no main of its own to start from; its threads are followed from where they run once resumed\n`);
      await this.script.exports.resumed();
    }
  }

  /**
   * The local device's transport: the agent opens the capture to append to, and a pipe whose
   * reading end this process holds while it lives. Either refused (another user's process,
   * another mount namespace): messages carry the events instead, which is slower, and says so.
   */
  private async openDirect(capturePath: string): Promise<boolean> {
    const { script, target } = this;
    const linkFd = await script!.exports.openLink() as number;
    try {
      if (linkFd >= 0) this.link = openSync(`/proc/${target.pid}/fd/${linkFd}`, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch {
      this.link = null;
    }
    const error = this.link === null ? null : await script!.exports.openCapture(resolve(capturePath)) as number;
    if (this.link === null || error !== 0) {
      const why = this.link === null ? `its descriptors cannot be opened from here` : `it cannot open ${capturePath} (${errnoText(error!)})`;
      this.setup.log.write(`note: ${target.name} sends its events through Frida's messages, which is slower: ${why}\n`);
      this.closeLink();
      return false;
    }
    this.follower = new FrameFollower(capturePath, this.capture!.size, (chunk) => this.stats.addChunk(chunk));
    return true;
  }

  /** Finds the frames the agent appended since the last look; damage ends the recording. */
  private follow(): void {
    try {
      this.grown();
    } catch (e) {
      this.fatal = (e as Error).message;
      this.end({ reason: 'detached', detail: this.fatal });
    }
  }

  private closeLink(): void {
    if (this.link !== null) closeSync(this.link);
    this.link = null;
  }

  /**
   * The agent's last frames. A frame it was killed in the middle of is cut off, so that the end
   * frame follows whole frames, and said; while it may still be appending, nothing is cut.
   */
  private endDirect(writerStopped: boolean): void {
    clearInterval(this.followTimer!);
    this.grown();
    const cut = this.follower!.tail;
    if (cut !== 0 && writerStopped) {
      this.capture!.cutBack(this.follower!.end);
      this.setup.log.write(`note: ${this.target.name} ended while its last ${cut} bytes of events were being written; they are not in the trace\n`);
    }
    this.closeLink();
  }

  /**
   * Once ended: stops the agent where the process lives on and leaves the process running, as
   * frida-trace does; writes the end frame and finishes the trace. Throws for a fatal agent
   * error, with the trace kept.
   */
  async finish(): Promise<Ending> {
    const ending = await this.ending;
    const { keepCapture, log } = this.setup;
    const capture = this.capture!;
    // Once the process is gone, or the agent answered the stop, nothing appends to the capture beside us.
    let writerStopped = ending.reason === 'exited' || ending.reason === 'crashed';
    let end = 0;
    try {
      if (ending.reason === 'interrupted' || ending.reason === 'duration' || this.fatal !== null) {
        const stopped = await within(STOP_MS, this.script!.exports.stop());
        writerStopped ||= stopped !== TIMED_OUT;
        this.skippedSites = typeof stopped === 'number' ? stopped : 0;
        if (stopped === TIMED_OUT) log.write(`note: the agent in ${this.target.name} did not answer the stop; what it sent before is kept\n`);
        // A thread parked in a syscall inside Stalker's code (a sleep) leaves it only when it next
        // runs; Frida's detach waits for that. The target is safe meanwhile (cmodule/gates.h).
        if (await within(DETACH_MS, this.target.session.detach()) === TIMED_OUT) {
          log.write(`note: some threads of ${this.target.name} are still inside Stalker's code; they run on unrecorded, and Frida's agent stays loaded in the process until they leave it\n`);
        }
      }
      if (this.follower !== null) this.endDirect(writerStopped);
      capture.appendMeta({ type: 'end', reason: ending.reason, ...(ending.detail ? { detail: ending.detail } : {}), endedAt: new Date().toISOString() });
      end = this.wholeEnd();
    } finally {
      capture.close();
    }
    const capturePath = capturePathFor(this.output);
    await this.ingest!.finish(end).catch((e: Error) => {
      throw new UserError(`${this.output} could not be finished (${e.message}); everything recorded is in ${capturePath}: run \`stalk-trace ingest ${capturePath} -o ${this.output}\``);
    });
    this.follower?.close();
    if (!keepCapture) rmSync(capturePath);
    if (this.fatal !== null) throw new UserError(`${this.fatal} (what was recorded is in ${this.output})`);
    return ending;
  }
}

/** ENOSPC (No space left on device), or the number where it has no name. */
function errnoText(n: number): string {
  const e = errnoOf(n);
  return e === undefined ? `errno ${n}` : `${e.name} (${e.message})`;
}
