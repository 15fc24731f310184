/**
 * A declarative description of a recording, from which the generator writes a capture file.
 * Steps run in order; each is written whole before the next, so module loads and unloads fall
 * between the events they affect. Tests derive their expected numbers from these descriptions.
 */
export interface Scenario {
  target?: string;
  pid?: number;
  arch?: 'x64' | 'arm64';
  /** Kinds recorded, as record --events would say: adds block and compile records where 'block' is named. */
  events?: string[];
  /** Send each block's code once in a compile record (default true), as the agent does. */
  captureCode?: boolean;
  /** Records per chunk (default 4096). */
  chunkRecords?: number;
  /** Chunks per events frame (default 8). */
  chunksPerFrame?: number;
  /** Groups of records that repeat right after themselves are sent once, with a repeat record, as the drain sends them (capture format 6). */
  foldLoops?: boolean;
  /** --apis: the prototypes the recording used, as its apis frame holds them; adds 'api' to events. */
  prototypes?: Array<[ret: string, name: string, args: string[]]>;
  steps: Step[];
  /** --events insn: the runs of instructions thread steps' `insns` execute, by id. */
  insnLayouts?: InsnLayoutSpec[];
  /** The end frame; null: the capture stops without one, as after a crash of the recorder. */
  end?: { reason: 'exited' | 'crashed' | 'interrupted' | 'duration' | 'detached'; detail?: string } | null;
}

export interface ModuleSpec {
  name: string;
  path?: string;
  /** As the agent reads it from memory: the host then adds names from the file at path when its build id matches. */
  buildId?: string;
  base: number;
  size: number;
  functions: FunctionSpec[];
}

export interface FunctionSpec {
  name: string;
  offset: number;
  size: number;
  /** Code the target names nothing (a PLT stub, a stripped function): not among the module's reported symbols. */
  unreported?: boolean;
  /** Code bytes of each of the function's blocks (default: 16 nops). */
  code?: number[];
}

export interface CallSpec {
  /** module!function of the callee. */
  fn: string;
  /** Consecutive activations (default 1). */
  count?: number;
  /** Blocks each activation runs, when blocks are recorded (default 1). */
  blocks?: number;
  syscalls?: SyscallSpec[];
  children?: CallSpec[];
  /** The activation never returns (longjmp out, or the thread dies in it). */
  noReturn?: boolean;
  /** --apis: the callee is a library function, recorded with these arguments (apicall, apiret). */
  api?: ApiSpec;
}

export interface ApiSpec {
  args?: number[];
  ret?: number;
  memory?: MemorySpec[];
  /** Nested too deep for the target to watch its return: no apiret. */
  untracked?: boolean;
}

/** Memory an argument pointed to, as the target read it. */
export interface MemorySpec {
  /** Argument index; -1: what the return value points to. */
  arg: number;
  text?: string;
  bytes?: number[];
  /** A wchar_t string (4-byte characters). */
  wide?: boolean;
  atReturn?: boolean;
  truncated?: boolean;
  unreadable?: boolean;
}

export interface SyscallSpec {
  nr: number;
  args?: number[];
  /** Return value; omit for a syscall that never returns (exit). */
  ret?: number;
  count?: number;
  memory?: MemorySpec[];
}

/**
 * A run of instructions (--events insn): written as a compile record of its code the first time a
 * thread runs it, and an insnlayout record the first time any thread does.
 */
export interface InsnLayoutSpec {
  id: number;
  address: number;
  /** Each instruction's bytes. */
  code: number[][];
  /** The values each execution carries, in order: a register written (by name), or a memory read or write of `bytes` bytes. */
  entries: Array<{ insn: number; reg?: string; read?: number; write?: number; unrecorded?: boolean }>;
  /** A damaged capture: its insnlayout record is never written. */
  undescribed?: boolean;
}

/** A register's value: an integer, or a vector register's bytes. */
export type RegValueSpec = number | bigint | number[];

/** What a thread does at the instruction level, in order, after its calls. */
export type InsnStep =
  /** insnsync: every register of the arch's sync list (the ones not named are 0), before the instruction at `at`. */
  | { sync: Record<string, number | bigint>; at: number; reason?: 'start' | 'funcEnter' }
  /** One execution of layout `run`: a value per entry; a memory entry's is its address and, unless unrecorded, its bytes. */
  | { run: number; values: Array<RegValueSpec | { address: number; bytes?: number[] }> }
  /** A syscall made by the instruction at `at` (its sysret before the run that follows). */
  | { syscall: SyscallSpec; at: number };

export type Step =
  | { load: ModuleSpec }
  | { unload: string }
  | { thread: number; name?: string; calls?: CallSpec[]; insns?: Iterable<InsnStep>; lost?: number; stallNs?: number; ends?: boolean };
