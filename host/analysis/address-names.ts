import type { TraceDb } from '../store/database.js';
import { ModuleMap } from '../symbols/module-map.js';
import { SymbolIndex } from '../symbols/symbol-index.js';

/**
 * Names any address of the trace's code the way locations are named (module!symbol+0xoff), also
 * addresses no event mentions, such as the targets of calls and jumps in disassembled blocks.
 * Modules are placed in load order, a later one replacing any it overlaps.
 */
export class AddressNames {
  private readonly map = new ModuleMap();

  constructor(db: TraceDb) {
    const symbols = db.prepare('SELECT id, name, offset, size FROM symbols WHERE module_id = ?');
    for (const m of db.prepare('SELECT id, name, path, base, size FROM modules ORDER BY load_order, id').all() as
      { id: number; name: string; path: string; base: number; size: number }[]) {
      const rows = symbols.all(m.id) as { id: number; name: string; offset: number; size: number }[];
      this.map.load({ ...m, symbols: new SymbolIndex(rows.map((s) => [s.offset, s.size, s.name, s.id] as const)) });
    }
  }

  /** module!symbol+0xoff, module+0xoff, or null outside every module. */
  name(address: number): string | null {
    const m = this.map.find(address);
    if (m === undefined) return null;
    const s = m.symbols.lookup(address - m.base);
    if (s === undefined) return `${m.name}+0x${(address - m.base).toString(16)}`;
    return `${m.name}!${s.name}${s.delta ? `+0x${s.delta.toString(16)}` : ''}`;
  }
}

/** Instructions whose operand is a code address: calls, jumps and branches (x86_64 and arm64 forms). */
const BRANCH = /^(0x[0-9a-f]+ {2}(?:call|jmp|j[a-z]{1,3}|loop\w*|bl|b|b\.\w+|cbn?z|tbn?z)\s+(?:\w+, )*)#?(0x[0-9a-f]+)$/;

/** A disassembled line with its branch target named: `call 0x5646b0346139` -> `call calls!leaf`. */
export function nameBranchTarget(line: string, names: AddressNames): string {
  const m = BRANCH.exec(line);
  if (m === null) return line;
  const name = names.name(Number(m[2]));
  return name === null ? line : `${m[1]}${name}`;
}
