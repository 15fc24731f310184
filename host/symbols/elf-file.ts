/**
 * What stalk-trace reads of an ELF file (64-bit, little-endian: x86_64 and arm64) to name code:
 * its function symbols (.symtab, .dynsym), its PLT stubs by the function each one reaches, its
 * build id and .gnu_debuglink (to find a separate debug file) and its .gnu_debugdata (the
 * xz-compressed symbol table, MiniDebugInfo, that Android's and Fedora's libraries carry).
 * Offsets are from the lowest loaded page, as a module's base is in the process.
 */

export type FunctionSymbol = [offset: number, size: number, name: string];

interface Section {
  name: string;
  type: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

const SHT_SYMTAB = 2;
const SHT_RELA = 4;
const SHT_NOBITS = 8;
const SHT_DYNSYM = 11;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const NT_GNU_BUILD_ID = 3;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;
/** Relocations that fill a GOT slot with a function's address: JUMP_SLOT and GLOB_DAT. */
const SLOT_RELOCATIONS: Record<number, number[]> = { [EM_X86_64]: [7, 6], [EM_AARCH64]: [1026, 1025] };

export class ElfFile {
  readonly machine: number;
  /** Where the first loaded page lies: module offsets count from it. */
  readonly loadBase: number;
  private readonly sections: Section[];

  private constructor(private readonly data: Buffer) {
    this.machine = data.readUInt16LE(0x12);
    const phoff = Number(data.readBigUInt64LE(0x20));
    let lowest = Infinity;
    for (let i = 0; i < data.readUInt16LE(0x38); i++) {
      const ph = phoff + i * data.readUInt16LE(0x36);
      if (data.readUInt32LE(ph) === 1) lowest = Math.min(lowest, Number(data.readBigUInt64LE(ph + 16)));
    }
    this.loadBase = lowest === Infinity ? 0 : lowest - (lowest % 4096);
    const shoff = Number(data.readBigUInt64LE(0x28));
    const count = data.readUInt16LE(0x3c);
    const raw = Array.from({ length: shoff === 0 ? 0 : count }, (_, i) => {
      const sh = shoff + i * data.readUInt16LE(0x3a);
      return {
        nameAt: data.readUInt32LE(sh), type: data.readUInt32LE(sh + 4), addr: Number(data.readBigUInt64LE(sh + 16)),
        offset: Number(data.readBigUInt64LE(sh + 24)), size: Number(data.readBigUInt64LE(sh + 32)),
        link: data.readUInt32LE(sh + 40), entsize: Number(data.readBigUInt64LE(sh + 56)),
      };
    });
    const names = raw[data.readUInt16LE(0x3e)];
    this.sections = raw.map((s) => ({ ...s, name: names === undefined ? '' : this.string(names.offset + s.nameAt) }));
  }

  /** The file's ELF image, or null for anything this reader does not take (not ELF, 32-bit, big-endian, cut short). */
  static parse(data: Buffer): ElfFile | null {
    if (data.length < 64 || data.readUInt32BE(0) !== 0x7f454c46 || data[4] !== 2 || data[5] !== 1) return null;
    try {
      return new ElfFile(data);
    } catch {
      return null;
    }
  }

  private string(at: number): string {
    const end = this.data.indexOf(0, at);
    return this.data.toString('utf8', at, end < 0 ? this.data.length : end);
  }

  private section(name: string): Section | undefined {
    return this.sections.find((s) => s.name === name && s.type !== SHT_NOBITS);
  }

  private bytes(s: Section): Buffer {
    return this.data.subarray(s.offset, s.offset + s.size);
  }

  /** The GNU build id, as hex, or null. */
  get buildId(): string | null {
    const note = this.section('.note.gnu.build-id');
    if (note === undefined) return null;
    const n = this.bytes(note);
    const namesz = n.readUInt32LE(0);
    const descsz = n.readUInt32LE(4);
    if (n.readUInt32LE(8) !== NT_GNU_BUILD_ID) return null;
    const desc = 12 + Math.ceil(namesz / 4) * 4;
    return n.subarray(desc, desc + descsz).toString('hex');
  }

  /** The separate debug file's name that .gnu_debuglink gives, or null. */
  get debugLink(): string | null {
    const link = this.section('.gnu_debuglink');
    return link === undefined ? null : this.string(link.offset);
  }

  /** The xz-compressed ELF image .gnu_debugdata holds, or null. */
  get miniDebugInfo(): Buffer | null {
    const s = this.section('.gnu_debugdata');
    return s === undefined ? null : this.bytes(s);
  }

  private symbolTable(s: Section): { name: string; value: number; size: number; type: number; defined: boolean }[] {
    const strings = this.sections[s.link];
    const out = [];
    for (let at = s.offset; at + 24 <= s.offset + s.size; at += 24) {
      out.push({
        name: this.string(strings.offset + this.data.readUInt32LE(at)), type: this.data[at + 4] & 0xf,
        defined: this.data.readUInt16LE(at + 6) !== 0, value: Number(this.data.readBigUInt64LE(at + 8)), size: Number(this.data.readBigUInt64LE(at + 16)),
      });
    }
    return out;
  }

  /** Function symbols defined here, from .symtab and .dynsym. */
  functions(): FunctionSymbol[] {
    const out: FunctionSymbol[] = [];
    for (const s of this.sections.filter((x) => x.type === SHT_SYMTAB || x.type === SHT_DYNSYM)) {
      for (const sym of this.symbolTable(s)) {
        if (sym.defined && sym.name !== '' && (sym.type === STT_FUNC || sym.type === STT_GNU_IFUNC) && sym.value >= this.loadBase) {
          out.push([sym.value - this.loadBase, sym.size, sym.name.replace(/@.*$/, '')]);
        }
      }
    }
    return out;
  }

  /** The function names the GOT slots hold once bound: slot address -> name, from the PLT and dynamic relocations. */
  private slotNames(): Map<number, string> {
    const dynsym = this.sections.find((s) => s.type === SHT_DYNSYM);
    const slots = new Map<number, string>();
    if (dynsym === undefined) return slots;
    const symbols = this.symbolTable(dynsym);
    const kinds = SLOT_RELOCATIONS[this.machine] ?? [];
    for (const rela of this.sections.filter((s) => s.type === SHT_RELA)) {
      for (let at = rela.offset; at + 24 <= rela.offset + rela.size; at += 24) {
        const info = this.data.readBigUInt64LE(at + 8);
        const name = symbols[Number(info >> 32n)]?.name;
        if (kinds.includes(Number(info & 0xffffffffn)) && name) slots.set(Number(this.data.readBigUInt64LE(at)), name.replace(/@.*$/, ''));
      }
    }
    return slots;
  }

  /**
   * Each PLT stub as `name@plt`, 16 bytes: the stub is decoded to the GOT slot it jumps
   * through (x86_64 `jmp [rip+X]`, with or without endbr64 and bnd; arm64 `adrp x16 / ldr x17`),
   * and the slot's relocation names the function.
   */
  pltStubs(): FunctionSymbol[] {
    const slots = this.slotNames();
    const out: FunctionSymbol[] = [];
    for (const s of this.sections.filter((x) => /^\.plt(\.sec|\.got)?$/.test(x.name))) {
      const code = this.bytes(s);
      const entry = s.name === '.plt.got' && s.entsize === 8 ? 8 : 16;
      // arm64's .plt opens with a 32-byte header; x86_64's first .plt entry is the resolver's.
      for (let at = this.machine === EM_AARCH64 && s.name === '.plt' ? 32 : 0; at + entry <= code.length; at += entry) {
        const slot = this.stubSlot(code, at, s.addr + at, entry);
        const name = slot === null ? undefined : slots.get(slot);
        if (name !== undefined) out.push([s.addr + at - this.loadBase, entry, `${name}@plt`]);
      }
    }
    return out;
  }

  private stubSlot(code: Buffer, at: number, address: number, length: number): number | null {
    if (this.machine === EM_X86_64) {
      for (let i = at; i + 6 <= at + length; i++) {
        if (code[i] === 0xff && code[i + 1] === 0x25) return address + (i - at) + 6 + code.readInt32LE(i + 2);
      }
      return null;
    }
    if (this.machine !== EM_AARCH64) return null;
    const adrp = code.readUInt32LE(at);
    const ldr = code.readUInt32LE(at + 4);
    if ((adrp & 0x9f000000) !== 0x90000000 || (ldr & 0xffc00000) !== 0xf9400000) return null;
    const imm = ((adrp >> 29) & 3) | (((adrp >> 5) & 0x7ffff) << 2);
    const page = Math.floor(address / 4096) * 4096 + (imm << 44 >> 44) * 4096;
    return page + ((ldr >> 10) & 0xfff) * 8;
  }
}
