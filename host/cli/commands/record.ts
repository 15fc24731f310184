import type { Argv, CommandModule } from 'yargs';
import { UserError } from '../../base/errors.js';
import { unknownCommand } from '../usage.js';
import { checkOutputPath } from '../output-file.js';
import { EventMask, type EventName } from '../../schema/layout.generated.js';
import { eventsToRecord } from '../../recording/events.js';
import { parseFuncSpec } from '../../recording/func-spec.js';
import type { TargetChoice } from '../../recording/target.js';
import type { ApiChoice } from '../../recording/api-options.js';

interface Args {
  file?: string;
  words?: string[];
  pid?: number;
  name?: string;
  usb?: boolean;
  device?: string;
  host?: string;
  thread?: number[];
  mainThread?: boolean;
  func?: string;
  funcTimeout: number;
  excludeModule?: string[];
  events: string;
  output?: string;
  duration?: number;
  lossy?: boolean;
  insnFlags?: boolean;
  drainInterval: number;
  transport: 'file' | 'messages';
  keepCapture?: boolean;
  apis?: boolean;
  config?: string[];
  numUnknownArgs: number;
  numMaxArgs: number;
  onlyFromApp?: boolean;
  appModule?: string;
  onlyToLib?: string;
  include?: string[];
  exclude?: string[];
  ignoreUnderscore?: boolean;
}

/** --apis, or any option that only means something with it. */
function apiChoice(args: Args): ApiChoice | null {
  const implied = args.config !== undefined || args.onlyFromApp || args.appModule !== undefined || args.onlyToLib !== undefined ||
    args.include !== undefined || args.exclude !== undefined || args.ignoreUnderscore;
  if (!args.apis && !implied) return null;
  return {
    configFiles: args.config ?? [], numUnknownArgs: args.numUnknownArgs, numMaxArgs: args.numMaxArgs,
    include: args.include ?? [], exclude: args.exclude ?? [], onlyToLib: args.onlyToLib ?? null,
    ignoreUnderscore: args.ignoreUnderscore ?? false, onlyFromApp: (args.onlyFromApp ?? false) || args.appModule !== undefined,
    appModule: args.appModule ?? null,
  };
}

const EVENTS = Object.keys(EventMask) as EventName[];
const isEventName = (e: string): e is EventName => (EVENTS as string[]).includes(e);

function parseEvents(list: string): EventName[] {
  const names = list.split(',').map((e) => e.trim()).filter(Boolean);
  const events = names.filter(isEventName);
  if (events.length < names.length || events.length === 0) throw new UserError(`--events takes a list of ${EVENTS.join(', ')}; not "${list}"`);
  return events;
}

function chooseTarget(args: Args, program: string[]): TargetChoice {
  const given = [args.file, args.pid, args.name].filter((v) => v !== undefined).length;
  if (given !== 1) throw new UserError('name one target: -f PROGRAM [ARGS...] to spawn it, -p PID or -n NAME to attach');
  if (args.file !== undefined) {
    if (args.file === '') throw new UserError('-f needs a program to spawn');
    return { spawn: [args.file, ...program] };
  }
  if (program.length > 0) throw new UserError(`arguments after -- are for a program that -f spawns; with -p or -n there is none`);
  if (args.pid !== undefined) {
    if (!Number.isInteger(args.pid) || args.pid <= 0) throw new UserError(`-p takes a process id, a whole number above 0, not ${args.pid}`);
    return { pid: args.pid };
  }
  return { name: args.name! };
}

/** A number option that must be above 0 (or at least 0), checked before any device is contacted. */
function positive(flag: string, value: number | undefined, { zero = false, whole = false } = {}): void {
  if (value === undefined) return;
  const ok = (zero ? value >= 0 : value > 0) && Number.isFinite(value) && (!whole || Number.isInteger(value));
  if (!ok) throw new UserError(`${flag} takes ${whole ? 'a whole number' : 'a number'} ${zero ? 'of 0 or more' : 'above 0'}, not ${value}`);
}

const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);

/** `program`: the words after `-f PROGRAM`, which belong to the program (see splitProgramArgs). */
export const recordCommand = (program: string[]): CommandModule<object, Args> => ({
  command: ['record [words..]', '$0'],
  describe: 'Record what a target executes (the default command): stalk-trace -U -f com.app --func libapp.so!0x1234',
  builder: (y) => (y as Argv<Args>)
    .positional('words', { type: 'string', array: true, hidden: true })
    .option('file', { alias: 'f', type: 'string', describe: 'spawn PROGRAM (or an app identifier on a device); last: everything after it is the program\'s arguments' })
    .option('pid', { alias: 'p', type: 'number', describe: 'attach to this process' })
    .option('name', { alias: 'n', type: 'string', describe: 'attach to the process with this name' })
    .option('usb', { alias: 'U', type: 'boolean', describe: 'the USB device' })
    .option('device', { alias: 'D', type: 'string', describe: 'the device with this id' })
    .option('host', { alias: 'H', type: 'string', describe: 'the frida-server at HOST[:PORT]' })
    .option('thread', { alias: 't', type: 'number', array: true, describe: 'follow only this thread (repeatable)' })
    .option('main-thread', { type: 'boolean', describe: 'follow only the main thread' })
    .option('func', { type: 'string', describe: 'record only inside this function: 0x1234, lib.so!0x1234, lib.so!name or name' })
    .option('func-timeout', { type: 'number', default: 30, describe: 'seconds to wait for the --func module to load' })
    .option('exclude-module', { type: 'string', array: true, describe: 'do not follow into modules matching this glob (repeatable)' })
    .option('events', { type: 'string', default: 'call,ret,syscall', describe: `what to record: ${EVENTS.join(', ')}` })
    .option('insn-flags', { type: 'boolean', describe: 'with --events insn: record the flags register (RFLAGS) where an instruction writes it' })
    .option('output', { alias: 'o', type: 'string', describe: 'trace database (default: TARGET-TIME.db)' })
    .option('duration', { type: 'number', describe: 'stop after this many seconds' })
    .option('lossy', { type: 'boolean', describe: 'drop (and count) events when the agent falls behind, instead of waiting' })
    .option('drain-interval', { type: 'number', default: 10, describe: 'ms between the agent\'s sends (messages)' })
    .option('transport', {
      choices: ['file', 'messages'] as const, default: 'file' as const,
      describe: 'how events leave a local target: appended to the capture file by the target itself, or in Frida\'s messages (always, for USB and remote devices)',
    })
    .option('keep-capture', { type: 'boolean', describe: 'keep the capture file (.stcap) beside the trace' })
    .option('apis', { type: 'boolean', describe: 'record calls to library functions with their arguments (drltrace style); the options below imply it' })
    .option('config', { type: 'string', array: true, describe: 'prototype file (RET|Name|ARG…) adding to or overriding the shipped ones (repeatable)' })
    .option('num-unknown-args', { type: 'number', default: 2, describe: 'arguments recorded for a function without a prototype' })
    .option('num-max-args', { type: 'number', default: 6, describe: 'arguments recorded at most per call' })
    .option('only-from-app', { type: 'boolean', describe: 'only library calls made from the app (the main module, or --app-module)' })
    .option('app-module', { type: 'string', describe: 'the module --only-from-app counts as the app' })
    .option('only-to-lib', { type: 'string', describe: 'only calls into modules matching this glob' })
    .option('include', { alias: 'i', type: 'string', array: true, describe: 'only library functions matching FUNCTION or MODULE!FUNCTION globs (repeatable)' })
    .option('exclude', { alias: 'x', type: 'string', array: true, describe: 'not library functions matching FUNCTION or MODULE!FUNCTION globs (repeatable)' })
    .option('ignore-underscore', { type: 'boolean', describe: 'not library functions whose names start with _' })
    .conflicts('thread', 'main-thread')
    .conflicts('usb', ['device', 'host'])
    .conflicts('device', 'host'),
  handler: async (args) => {
    const [{ argCount, resolveApiChoice }, { record }, { formatInfo, traceInfo }, { openTraceReadOnly }] = await Promise.all([
      import('../../recording/api-options.js'), import('../../recording/recorder.js'), import('../../analysis/info.js'), import('../../store/database.js'),
    ]);
    // Everything that can be checked is checked before a device is contacted.
    if (args.words !== undefined && args.words.length > 0) throw new UserError(unknownCommand(String(args.words[0])));
    const target = chooseTarget(args, program);
    positive('--duration', args.duration);
    positive('--drain-interval', args.drainInterval);
    positive('--func-timeout', args.funcTimeout, { zero: true });
    for (const t of args.thread ?? []) positive('--thread', t, { whole: true });
    argCount('--num-max-args', args.numMaxArgs);
    argCount('--num-unknown-args', args.numUnknownArgs);
    const requested = parseEvents(args.events);
    const func = args.func === undefined ? null : parseFuncSpec(args.func);
    const choice = apiChoice(args);
    const apis = choice === null ? null : resolveApiChoice(choice);
    const events = eventsToRecord(requested, apis !== null, args.insnFlags ?? false);
    const targetName = 'spawn' in target ? target.spawn[0].split('/').pop()! : 'pid' in target ? `pid${target.pid}` : target.name;
    const output = checkOutputPath(args.output ?? `${targetName}-${stamp()}.db`, '--output');
    const outcome = await record({
      device: { usb: args.usb, deviceId: args.device, host: args.host },
      target,
      agent: {
        events, lossy: args.lossy ?? false, insnFlags: args.insnFlags ?? false,
        threads: args.mainThread ? 'main' : args.thread !== undefined ? 'listed' : 'all', threadIds: args.thread ?? [],
        func, funcTimeoutMs: args.funcTimeout * 1000, excludeModules: args.excludeModule ?? [],
        drainIntervalMs: args.drainInterval, outboxBytes: 16 << 20, apis: apis?.options ?? null,
      },
      prototypes: apis?.prototypes ?? null,
      output,
      durationMs: args.duration === undefined ? undefined : args.duration * 1000,
      keepCapture: args.keepCapture ?? false,
      transport: args.transport,
      log: process.stderr,
    });
    const db = openTraceReadOnly(outcome.output);
    try {
      console.log(`recorded ${outcome.output}`);
      console.log(formatInfo(traceInfo(db)));
    } finally {
      db.close();
    }
    // A target that ran and left nothing recorded: the recording failed, whatever the target did.
    if (outcome.events === 0) {
      throw new UserError(`no events were recorded from ${targetName}; the empty trace is kept in ${outcome.output}`);
    }
    if (outcome.skippedSites > 0) {
      console.log(`note: ${outcome.skippedSites} sites inside exclusive load/store sequences were left unrecorded (a write there would break them)`);
    }
    if (outcome.capture !== null) console.log(`capture kept: ${outcome.capture}`);
  },
});
