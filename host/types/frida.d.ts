// `frida` is an optional dependency whose native binding cannot be installed everywhere; these
// are the parts of its API (frida-node 17) stalk-trace uses, so the host compiles without it.
declare module 'frida' {
  export interface Signal<T extends unknown[]> {
    connect(handler: (...args: T) => void): void;
    disconnect(handler: (...args: T) => void): void;
  }

  export type Message =
    | { type: 'send'; payload: unknown }
    | { type: 'error'; description: string; stack?: string; fileName?: string; lineNumber?: number };

  export interface Script {
    readonly exports: Record<string, (...args: unknown[]) => Promise<unknown>>;
    readonly message: Signal<[Message, Buffer | null]>;
    readonly destroyed: Signal<[]>;
    load(): Promise<void>;
    unload(): Promise<void>;
    post(message: unknown, data?: Buffer | null): void;
  }

  export interface Crash {
    summary: string;
    report: string;
  }

  export interface Session {
    readonly pid: number;
    readonly detached: Signal<[string, Crash | null]>;
    createScript(source: string, options?: { name?: string; runtime?: string }): Promise<Script>;
    detach(): Promise<void>;
  }

  export interface Process {
    pid: number;
    name: string;
  }

  export interface Device {
    readonly id: string;
    readonly name: string;
    readonly type: string;
    spawn(program: string | string[], options?: { argv?: string[]; cwd?: string; stdio?: 'inherit' | 'pipe' }): Promise<number>;
    attach(target: number | string): Promise<Session>;
    resume(pid: number): Promise<void>;
    kill(pid: number): Promise<void>;
    enumerateProcesses(): Promise<Process[]>;
  }

  export interface DeviceManager {
    addRemoteDevice(address: string): Promise<Device>;
  }

  export function getLocalDevice(): Promise<Device>;
  export function getUsbDevice(options?: { timeout?: number | null }): Promise<Device>;
  export function getDevice(id: string, options?: { timeout?: number | null }): Promise<Device>;
  export function getDeviceManager(): DeviceManager;
  export function enumerateDevices(): Promise<Device[]>;
}
