import type { Output } from '../../cli/output.js';
import { UserError } from '../../cli/errors.js';
import type { TraceDb } from '../../store/database.js';

/**
 * drcov version 2 (as Lighthouse, Cartographer and bncov read it): a text header and module
 * table, then one binary {u32 start offset; u16 size; u16 module id} entry per covered block.
 * A block counts as covered when it ran or was compiled to run. Returns blocks left out for
 * lying outside every module.
 */
export async function writeDrcov(db: TraceDb, out: Output): Promise<{ outside: number }> {
  const modules = db.prepare('SELECT id, path, base, size FROM modules ORDER BY id').all() as
    { id: number; path: string; base: number; size: number }[];
  const blocks = db.prepare(`SELECT l.module_id, l.offset, b.end - b.start AS size FROM blocks b JOIN locations l ON l.id = b.location_id
    WHERE b.executions > 0 OR b.code IS NOT NULL ORDER BY b.id`).all() as { module_id: number | null; offset: number | null; size: number }[];
  if (blocks.length === 0) throw new UserError('the trace has no blocks: record with --events block for coverage');
  const index = new Map(modules.map((m, i) => [m.id, i]));
  const inModules = blocks.filter((b) => b.module_id !== null);
  const hex = (n: number) => `0x${n.toString(16).padStart(16, '0')}`;
  await out.line('DRCOV VERSION: 2');
  await out.line('DRCOV FLAVOR: stalk-trace');
  await out.line(`Module Table: version 2, count ${modules.length}`);
  await out.line('Columns: id, base, end, entry, checksum, timestamp, path');
  for (const [i, m] of modules.entries()) {
    await out.line(`${String(i).padStart(3)}, ${hex(m.base)}, ${hex(m.base + m.size)}, ${hex(0)}, 0x00000000, 0x00000000, ${m.path}`);
  }
  await out.line(`BB Table: ${inModules.length} bbs`);
  const entries = Buffer.alloc(inModules.length * 8);
  inModules.forEach((b, i) => {
    entries.writeUInt32LE(b.offset!, i * 8);
    entries.writeUInt16LE(Math.min(b.size, 0xffff), i * 8 + 4);
    entries.writeUInt16LE(index.get(b.module_id!)!, i * 8 + 6);
  });
  await out.write(entries);
  await out.flush();
  return { outside: blocks.length - inModules.length };
}
