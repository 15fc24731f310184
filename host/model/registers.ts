import { InsnRegisters, type ArchName } from '../schema/layout.generated.js';

/**
 * The registers insn records name by id (schemas/records.json insnRegisters): general ones by
 * their index in names, vector ones in numbered ranges. One table per arch, built once.
 */
export interface RegisterSet {
  /** Name by id; undefined for an id the arch does not define. */
  readonly names: readonly (string | undefined)[];
  /** Value size in bytes by id. */
  readonly sizes: readonly number[];
  /** Id by name. */
  readonly ids: ReadonlyMap<string, number>;
  /** The ids an insnsync record carries, in its order. */
  readonly sync: readonly number[];
  /** The program counter's id (rip, pc). */
  readonly pc: number;
}

/** General registers are this wide; vector registers say their own size. */
export const GENERAL_REGISTER_BYTES = 8;

const sets = new Map<string, RegisterSet>();

function build(arch: ArchName): RegisterSet {
  const r = InsnRegisters[arch === 'x64' ? 'x64' : 'arm64'];
  const names: (string | undefined)[] = [];
  const sizes: number[] = [];
  r.names.forEach((name, id) => {
    names[id] = name;
    sizes[id] = GENERAL_REGISTER_BYTES;
  });
  const range = (base: number, prefix: string, count: number, size: number) => {
    for (let i = 0; i < count; i++) {
      names[base + i] = `${prefix}${i}`;
      sizes[base + i] = size;
    }
  };
  range(r.vectorBase, r.vectorPrefix, r.vectorCount, r.vectorSize);
  range(r.wideBase, r.widePrefix, r.wideCount, r.wideSize);
  const ids = new Map<string, number>();
  names.forEach((name, id) => {
    if (name !== undefined) ids.set(name, id);
  });
  return { names, sizes, ids, sync: r.sync.map((n) => ids.get(n)!), pc: ids.get(arch === 'x64' ? 'rip' : 'pc')! };
}

/** The register set of a trace's arch. */
export function registerSet(arch: ArchName): RegisterSet {
  let set = sets.get(arch);
  if (!set) sets.set(arch, (set = build(arch)));
  return set;
}
