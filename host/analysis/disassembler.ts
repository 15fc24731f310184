import type { ArchName } from '../schema/layout.generated.js';

export type Disassemble = (code: Uint8Array, address: number) => string[];

/** One decoded instruction. */
export interface DecodedInsn {
  address: number | bigint;
  size: number;
  mnemonic: string;
  opStr: string;
}

export type Decode = (code: Uint8Array, address: number) => DecodedInsn[];

/** Capstone's architecture and mode for each architecture a capture can name. */
const MODES: Record<string, [string, string]> = {
  x64: ['CS_ARCH_X86', 'CS_MODE_64'],
  arm64: ['CS_ARCH_ARM64', 'CS_MODE_ARM'],
} satisfies Record<ArchName, [string, string]>;

/**
 * A Capstone disassembler for the trace's architecture; each instruction as `0xaddr  mnemonic operands`.
 * Capstone is loaded here, when asked for, so commands that never disassemble do not pay for it.
 */
export async function createDisassembler(arch: string): Promise<Disassemble | undefined> {
  const decode = await createDecoder(arch);
  if (!decode) return undefined;
  return (code, address) => {
    const insns = decode(code, address);
    const lines = insns.map((i) => `0x${i.address.toString(16)}  ${i.mnemonic}${i.opStr ? ` ${i.opStr}` : ''}`);
    const decoded = insns.reduce((sum, i) => sum + i.size, 0);
    if (decoded < code.length) lines.push(`0x${(address + decoded).toString(16)}  (${code.length - decoded} bytes that do not decode)`);
    return lines;
  };
}

/** Capstone's instructions for the trace's architecture; undefined where it has none. */
export async function createDecoder(arch: string): Promise<Decode | undefined> {
  const mode = MODES[arch];
  if (!mode) return undefined;
  const { Capstone, Const, loadCapstone } = await import('capstone-wasm');
  await loadCapstone();
  const cs = new Capstone(Const[mode[0]], Const[mode[1]]);
  return (code, address) => cs.disasm(code, { address: BigInt(address) });
}
