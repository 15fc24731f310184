// stalk-trace's agent: follows threads with Stalker, records through the CModule transformer,
// and sends the module map, thread names and event chunks to the host (schemas/agent.json).
import { ApiTable } from './apis.js';
import { ForkGuard } from './forks.js';
import { checkFuncSpec, FuncScope } from './func-scope.js';
import { fridaRanges } from './frida-code.js';
import { keepFridaThroughExit } from './frida-destructors.js';
import { watchFaultsAndExit } from './lifecycle.js';
import { post } from './messages.js';
import { ModuleWatcher } from './modules.js';
import { Outbox } from './outbox.js';
import type { AgentInfo, AgentOptions, StartInfo } from '../host/schema/protocol.generated.js';
import { targetArch } from './target.js';
import { Threads } from './threads.js';
import { Tracer } from './tracer.js';
import { isZygoteChild, programStart } from './main-thread.js';
import { SignalHandlers } from './signals.js';

interface Recording {
  options: AgentOptions;
  tracer: Tracer;
  outbox: Outbox;
  threads: Threads;
  modules: ModuleWatcher;
  func: FuncScope | null;
  forks: ForkGuard;
}

let recording: Recording | null = null;

const selection = (options: AgentOptions) => (tid: number) =>
  options.threads === 'all' || (options.threads === 'main' ? tid === Process.id : options.threadIds.includes(tid));

/**
 * A spawned process is not running yet and following its main thread from here does not take:
 * the main thread follows itself when it first runs code of the program's own (its constructors,
 * else main). Returns false where there is none to wait for: the host's resumed() then follows
 * the thread as it runs.
 */
function followMainThreadAtStart(r: Recording): boolean {
  const starts = isZygoteChild() ? [] : programStart();
  if (starts.length === 0) return false;
  const { threads } = r;
  const hooks = starts.map((at) => Interceptor.attach(at, {
    onEnter() {
      if (!threads.isFollowed(this.threadId)) threads.follow(this.threadId);
      for (const h of hooks) h.detach();
    },
  }));
  return true;
}

rpc.exports = {
  init(options: AgentOptions): AgentInfo {
    const arch = targetArch();
    if (options.func !== null) checkFuncSpec(options.func);
    const tracer = new Tracer(arch, options.events, options.outboxBytes, options.lossy, options.func === null);
    if (options.insnFlags) tracer.insnFlags = true;
    const outbox = new Outbox(tracer);
    const threads = new Threads(tracer);
    const func = options.func === null ? null : new FuncScope(options.func, tracer);
    const apis = options.apis === null ? null : new ApiTable(options.apis, tracer);
    const forks = new ForkGuard(tracer, threads);
    const modules = new ModuleWatcher(options.excludeModules, () => forks.inChild || outbox.flush(), (m, symbols, excluded) => {
      apis?.added(m, symbols, excluded);
      try {
        func?.tryResolve();
      } catch (e) {
        post({ type: 'fatal', reason: (e as Error).message });
      }
    }, (m) => apis?.removed(m));
    recording = { options, tracer, outbox, threads, modules, func, forks };
    return {
      arch, pointerSize: Process.pointerSize, platform: Process.platform, fridaVersion: Frida.version,
      mainModule: Process.mainModule.name,
    };
  },

  /** On the local device: the link whose reading end the host holds while it lives; returns its fd number (-1: none). */
  openLink(): number {
    if (recording === null) throw new Error('init first');
    return recording.tracer.openLink();
  },

  /** On the local device: opens the capture to append event frames to; 0, or the errno that refused it. */
  openCapture(path: string): number {
    if (recording === null) throw new Error('init first');
    return recording.tracer.openCapture(path);
  },

  /** `direct`: the capture is open and the host holds the link, so chunks are appended here rather than sent in messages. */
  start(direct: boolean): StartInfo {
    const r = recording;
    if (r === null) throw new Error('init first');
    // First: what anything below flushes goes the way the host reads.
    r.outbox.start(r.options.drainIntervalMs, direct);
    r.forks.watch();
    watchFaultsAndExit(r.outbox, r.forks, () => r.tracer.skippedSites);
    keepFridaThroughExit();
    new SignalHandlers(r.threads).watch();
    const spawnedMainSelected = r.options.spawned && selection(r.options)(Process.id);
    const mainAtStart = spawnedMainSelected && followMainThreadAtStart(r);
    // After the last hook is placed (its trampoline is Frida's memory too), before any following.
    const frida = fridaRanges();
    r.tracer.silentRanges = frida;
    // Only the library: Interceptor's trampolines are reached by branches and run under Stalker
    // (excluding them stops the follow a hook starts, seen on x86_64).
    for (const range of frida) if (range.library) Stalker.exclude(range);
    r.modules.start();
    if (r.func !== null && !r.func.tryResolve()) r.func.deadline(r.options.funcTimeoutMs);
    const selected = selection(r.options);
    r.threads.watch((tid) => selected(tid) && !(mainAtStart && tid === Process.id) && !r.forks.inChild);
    return { mainFollowedFrom: !spawnedMainSelected ? 'attach' : mainAtStart ? 'start' : 'resume' };
  },

  /** The host resumed a spawned process: its threads now run and can be followed where they are. */
  resumed(): void {
    const r = recording;
    if (r === null) return;
    const selected = selection(r.options);
    for (const t of Process.enumerateThreads()) {
      if (selected(t.id) && !r.threads.isFollowed(t.id) && !r.forks.inChild && !r.threads.isFrida(t)) r.threads.follow(t.id, t.name ?? null);
    }
  },

  stop,

  /**
   * Frida calls this right before it unloads the agent. When the host died (killed) it never
   * says stop, yet the drain and writer threads run the CModule's code and Stalker's code leads
   * into it: they must end first, or the target crashes once the CModule is unmapped. (Frida
   * also unloads the agent as the process exits, where the exit's own records must still come.)
   */
  dispose(): void {
    if (recording?.tracer.abandoned) stop();
  },
};

/** Stops recording and sends everything left; returns the sites left unrecorded. */
function stop(): number {
  const r = recording;
  if (r === null) return 0;
  r.func?.stop();
  r.modules.stop();
  r.threads.stop();
  r.outbox.stop();
  r.tracer.stopDrainThread();
  r.outbox.flush();
  r.tracer.disarm();
  recording = null;
  return r.tracer.skippedSites;
}
