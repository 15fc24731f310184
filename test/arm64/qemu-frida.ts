// The `frida` package as stalk-trace uses it (host/types/frida.d.ts), for arm64 programs run by
// qemu-user, where no frida-server can inject Frida's agent: the program is spawned with
// test/arm64/harness.c preloaded, which embeds GumJS and runs the script the host creates.
// frida-loader.ts makes `import('frida')` load this module, so `stalk-trace record -f PROGRAM`
// records the arm64 program through the code it uses everywhere else.
//
// Set by the tests: STALK_TRACE_ARM64_HARNESS (the harness library built for arm64), and
// optionally STALK_TRACE_ARM64_CPU (qemu's -cpu, e.g. max for pointer authentication).
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type * as Frida from 'frida';

/** Where Debian's arm64 cross libraries are (libc6-arm64-cross): qemu-user's -L. */
const SYSROOT = '/usr/aarch64-linux-gnu';
/** Frames (harness.c): kinds to the harness, and from it. */
const CREATE = 1, LOAD = 2, POST = 3, RESUME = 4, UNLOAD = 5;
const MESSAGE = 1, DONE = 2;
const NO_DATA = 0xffffffff;
const HEADER = 12;

class Signal<T extends unknown[]> implements Frida.Signal<T> {
  private readonly handlers: ((...args: T) => void)[] = [];
  connect(handler: (...args: T) => void): void {
    this.handlers.push(handler);
  }
  disconnect(handler: (...args: T) => void): void {
    const i = this.handlers.indexOf(handler);
    if (i >= 0) this.handlers.splice(i, 1);
  }
  emit(...args: T): void {
    for (const h of [...this.handlers]) h(...args);
  }
}

function frame(kind: number, text: string, data: Buffer | null = null): Buffer {
  const body = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(HEADER);
  header.writeUInt32LE(kind, 0);
  header.writeUInt32LE(body.length, 4);
  header.writeUInt32LE(data === null ? NO_DATA : data.length, 8);
  return Buffer.concat([header, body, data ?? Buffer.alloc(0)]);
}

type RpcReply = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** One spawned program, its harness and the one script it runs. */
class HarnessProcess {
  readonly detached = new Signal<[string, Frida.Crash | null]>();
  readonly message = new Signal<[Frida.Message, Buffer | null]>();
  private readonly commands: Writable;
  private readonly done: RpcReply[] = [];
  private readonly rpc = new Map<number, RpcReply>();
  private nextRpc = 1;
  private pending = Buffer.alloc(0);
  private gone: string | null = null;

  constructor(readonly child: ChildProcess, readonly name: string) {
    this.commands = child.stdio[3] as Writable;
    // A command written after the process ended: the end is reported, not the broken pipe.
    this.commands.on('error', () => {});
    (child.stdio[4] as Readable).on('data', (chunk: Buffer) => this.received(chunk));
    child.on('close', (code, signal) => {
      this.gone = signal === null ? `the process exited (status ${code})` : `the process was killed by ${signal}`;
      for (const r of [...this.done.splice(0), ...this.rpc.values()]) r.reject(new Error(this.gone));
      this.rpc.clear();
      this.detached.emit('process-terminated', null);
    });
  }

  private received(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= HEADER) {
      const textLength = this.pending.readUInt32LE(4);
      const dataLength = this.pending.readUInt32LE(8);
      const total = HEADER + textLength + (dataLength === NO_DATA ? 0 : dataLength);
      if (this.pending.length < total) return;
      const text = this.pending.toString('utf8', HEADER, HEADER + textLength);
      const data = dataLength === NO_DATA ? null : Buffer.from(this.pending.subarray(HEADER + textLength, total));
      const kind = this.pending.readUInt32LE(0);
      this.pending = this.pending.subarray(total);
      if (kind === DONE) {
        const r = this.done.shift();
        if (text === '') r?.resolve(undefined);
        else r?.reject(new Error(text));
      } else if (kind === MESSAGE) {
        this.delivered(JSON.parse(text) as Frida.Message | { type: 'log'; payload: string }, data);
      }
    }
  }

  private delivered(m: Frida.Message | { type: 'log'; payload: string }, data: Buffer | null): void {
    if (m.type === 'log') {
      process.stderr.write(`${m.payload}\n`);
      return;
    }
    const payload = m.type === 'send' ? m.payload : null;
    if (Array.isArray(payload) && payload[0] === 'frida:rpc') {
      const [, id, status, value, ...rest] = payload as [string, number, string, unknown, ...unknown[]];
      const r = this.rpc.get(id);
      this.rpc.delete(id);
      if (status === 'ok') r?.resolve(value);
      else r?.reject(Object.assign(new Error(String(value)), { stack: String(rest[1] ?? value) }));
      return;
    }
    this.message.emit(m, data);
  }

  private send(bytes: Buffer): void {
    if (this.gone !== null) throw new Error(this.gone);
    this.commands.write(bytes);
  }

  /** A command the harness answers with DONE. */
  command(kind: number, text = ''): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.gone !== null) return reject(new Error(this.gone));
      this.done.push({ resolve: () => resolve(), reject });
      this.send(frame(kind, text));
    });
  }

  post(message: unknown, data: Buffer | null = null): void {
    this.send(frame(POST, JSON.stringify(message), data));
  }

  call(method: string, args: unknown[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.gone !== null) return reject(new Error(this.gone));
      const id = this.nextRpc++;
      this.rpc.set(id, { resolve, reject });
      this.post(['frida:rpc', id, 'call', method, args]);
    });
  }
}

function scriptOf(p: HarnessProcess): Frida.Script {
  return {
    exports: new Proxy({}, { get: (_, method) => (...args: unknown[]) => p.call(String(method), args) }),
    message: p.message,
    destroyed: new Signal<[]>(),
    load: () => p.command(LOAD),
    unload: () => p.command(UNLOAD),
    post: (message, data) => p.post(message, data ?? null),
  };
}

function sessionOf(p: HarnessProcess): Frida.Session {
  return {
    pid: p.child.pid!,
    detached: p.detached,
    async createScript(source) {
      await p.command(CREATE, source);
      return scriptOf(p);
    },
    async detach() {
      await p.command(UNLOAD);
      p.detached.emit('application-requested', null);
    },
  };
}

const processes = new Map<number, HarnessProcess>();

function harnessed(pid: number): HarnessProcess {
  const p = processes.get(pid);
  if (p === undefined) throw new Error(`process ${pid} was not spawned here: qemu-user offers no way to attach to a running process`);
  return p;
}

const local: Frida.Device = {
  id: 'local',
  name: 'Local System (arm64 under qemu-user)',
  type: 'local',
  async spawn(program) {
    const harness = process.env.STALK_TRACE_ARM64_HARNESS;
    if (harness === undefined) throw new Error('STALK_TRACE_ARM64_HARNESS names no harness library');
    const argv = typeof program === 'string' ? [program] : program;
    const cpu = process.env.STALK_TRACE_ARM64_CPU;
    const child = spawn('qemu-aarch64-static', ['-L', SYSROOT, ...(cpu ? ['-cpu', cpu] : []), '-E', `LD_PRELOAD=${harness}`, ...argv], {
      stdio: ['inherit', 'inherit', 'inherit', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    processes.set(child.pid!, new HarnessProcess(child, argv[0].split('/').pop()!));
    return child.pid!;
  },
  async attach(target) {
    return sessionOf(harnessed(Number(target)));
  },
  async resume(pid) {
    await harnessed(pid).command(RESUME);
  },
  async kill(pid) {
    harnessed(pid).child.kill('SIGKILL');
  },
  async enumerateProcesses() {
    return [...processes.values()].map((p) => ({ pid: p.child.pid!, name: p.name }));
  },
};

const elsewhere = (): never => {
  throw new Error('only the local system is reachable here, with arm64 programs under qemu-user');
};

export const getLocalDevice = async () => local;
export const enumerateDevices = async () => [local];
export const getUsbDevice = async () => elsewhere();
export const getDevice = async () => elsewhere();
export const getDeviceManager = (): Frida.DeviceManager => ({ addRemoteDevice: async () => elsewhere() });
