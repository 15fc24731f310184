// capstone-wasm ships types, but its package exports do not point at them for ESM resolution;
// these are the parts used here, as its dist/index.d.ts declares them.
declare module 'capstone-wasm' {
  export interface Insn {
    id: number;
    address: number | bigint;
    size: number;
    bytes: Uint8Array;
    mnemonic: string;
    opStr: string;
  }
  export class Capstone {
    constructor(arch: number, mode: number);
    disasm(data: number[] | Uint8Array, options?: { address?: number | bigint; count?: number }): Insn[];
    close(): void;
  }
  export const Const: Record<string, number>;
  export function loadCapstone(args?: Record<string, unknown>): Promise<void>;
}
