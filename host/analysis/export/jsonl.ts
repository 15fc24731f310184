import type { Output } from '../../cli/output.js';
import type { TraceDb } from '../../store/database.js';
import { eventCursor } from '../../store/stored-events.js';
import { syscallNames } from '../../symbols/syscall-table.js';
import { ApiFormatter } from '../api-format.js';
import { storedPrototypes } from '../../symbols/prototypes.js';
import { apiCallById } from '../call-records.js';

const hex = (n: number | bigint) => `0x${BigInt.asUintN(64, BigInt(n)).toString(16)}`;
const exact = (v: bigint) => (v >= Number.MIN_SAFE_INTEGER && v <= Number.MAX_SAFE_INTEGER ? Number(v) : v.toString());

/** One JSON object per event, addresses named. */
export async function writeJsonl(db: TraceDb, threads: number[], out: Output): Promise<void> {
  const locations: { name: string; address: number }[] = [];
  for (const r of db.prepare('SELECT id, name, address FROM locations').iterate() as Iterable<{ id: number; name: string; address: number }>) {
    locations[r.id] = { name: r.name, address: r.address };
  }
  const names = syscallNames(db.prepare('SELECT arch FROM trace').pluck().get() as string);
  const apiCall = apiCallById(db);
  const apiFormat = new ApiFormatter(storedPrototypes(db));
  const syscall = db.prepare('SELECT nr, arg0, arg1, arg2, arg3, arg4, arg5, ret FROM syscalls WHERE id = ?').safeIntegers(true);
  for (const tid of threads) {
    const cursor = eventCursor(db, { thread: tid });
    while (cursor.next()) {
      const at = locations[cursor.locationId];
      const e: Record<string, unknown> = { thread: tid, seq: cursor.seq, kind: cursor.kind, depth: cursor.depth, location: at.name, address: hex(at.address) };
      switch (cursor.kind) {
        case 'call':
        case 'ret':
          e.target = locations[cursor.value].name;
          e.target_address = hex(locations[cursor.value].address);
          break;
        case 'block':
        case 'compile':
          e.size = cursor.value;
          break;
        case 'stall':
          e.stall_ns = cursor.value;
          break;
        case 'syscall':
        case 'sysret': {
          const s = syscall.get(cursor.value) as Record<string, bigint | null>;
          const nr = Number(s.nr);
          e.syscall = cursor.kind === 'syscall'
            ? { nr, name: names.get(nr) ?? `syscall_${nr}`, args: [s.arg0, s.arg1, s.arg2, s.arg3, s.arg4, s.arg5].map((a) => hex(a ?? 0n)) }
            : { nr, name: names.get(nr) ?? `syscall_${nr}`, ret: s.ret === null ? null : exact(s.ret) };
          break;
        }
        case 'apicall':
        case 'apiret': {
          const c = apiCall(cursor.value);
          if (c === undefined) break;
          e.api = cursor.kind === 'apicall'
            ? { function: `${c.module}!${c.name}`, args: c.args.map(hex), call: apiFormat.line(c) }
            : { function: `${c.module}!${c.name}`, ret: c.ret === null ? null : exact(c.ret) };
          break;
        }
      }
      await out.line(JSON.stringify(e));
      if (out.closed) return;
    }
  }
  await out.flush();
}
