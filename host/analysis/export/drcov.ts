import type { Output } from '../../base/output.js';
import { UserError } from '../../base/errors.js';
import type { TraceDb } from '../../store/database.js';
import { eventCursor } from '../../store/stored-events.js';

export interface CoveredBlock {
  module_id: number | null;
  offset: number | null;
  size: number;
}

/**
 * The blocks drcov lists: those that ran or were compiled to run, in the whole trace or (with
 * `thread`) in one thread's events. Refused when there are none, before any output is opened.
 */
export function coveredBlocks(db: TraceDb, thread?: number): CoveredBlock[] {
  let blocks: CoveredBlock[];
  if (thread === undefined) {
    blocks = db.prepare(`SELECT l.module_id, l.offset, b.end - b.start AS size FROM blocks b JOIN locations l ON l.id = b.location_id
      WHERE b.executions > 0 OR b.code IS NOT NULL ORDER BY b.id`).all() as CoveredBlock[];
  } else {
    const seen = new Set<number>();
    const located = db.prepare('SELECT module_id, offset FROM locations WHERE id = ?');
    blocks = [];
    const cursor = eventCursor(db, { thread });
    while (cursor.next()) {
      if (cursor.kind !== 'block' && cursor.kind !== 'compile') continue;
      const key = cursor.locationId * 65536 + cursor.value;
      if (seen.has(key)) continue;
      seen.add(key);
      blocks.push({ ...(located.get(cursor.locationId) as Omit<CoveredBlock, 'size'>), size: cursor.value });
    }
  }
  if (blocks.length === 0) {
    throw new UserError(`the ${thread === undefined ? 'trace' : `thread ${thread}`} has no blocks: record with --events block for coverage`);
  }
  return blocks;
}

/**
 * drcov version 2 (as Lighthouse, Cartographer and bncov read it): a text header and module
 * table, then one binary {u32 start offset; u16 size; u16 module id} entry per covered block.
 * Returns blocks left out for lying outside every module.
 */
export async function writeDrcov(db: TraceDb, blocks: CoveredBlock[], out: Output): Promise<{ outside: number }> {
  const modules = db.prepare('SELECT id, path, base, size FROM modules ORDER BY id').all() as
    { id: number; path: string; base: number; size: number }[];
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
