import type { TraceDb } from '../store/database.js';
import type { EventCursor } from '../store/stored-events.js';
import { syscallNames } from '../symbols/syscall-table.js';
import { storedPrototypes } from '../symbols/prototypes.js';
import { ApiFormatter } from './api-text.js';
import { apiCallById } from './call-records.js';

/** Events as JSON objects (see json.ts for the convention), for the jsonl export and replay --json. */
export class EventJson {
  private readonly locations: { name: string; address: number }[] = [];
  private readonly names: Map<number, string>;
  private readonly apiCall: ReturnType<typeof apiCallById>;
  private readonly apiFormat: ApiFormatter;
  private readonly syscall;

  constructor(db: TraceDb) {
    for (const r of db.prepare('SELECT id, name, address FROM locations').iterate() as Iterable<{ id: number; name: string; address: number }>) {
      this.locations[r.id] = { name: r.name, address: r.address };
    }
    this.names = syscallNames(db.prepare('SELECT arch FROM trace').pluck().get() as string);
    this.apiCall = apiCallById(db);
    this.apiFormat = new ApiFormatter(storedPrototypes(db));
    this.syscall = db.prepare('SELECT nr, arg0, arg1, arg2, arg3, arg4, arg5, ret FROM syscalls WHERE id = ?').safeIntegers(true);
  }

  /** The event the cursor is on. */
  of(cursor: EventCursor): Record<string, unknown> {
    const at = this.locations[cursor.locationId];
    const e: Record<string, unknown> = {
      thread_id: cursor.threadId, seq: cursor.seq, kind: cursor.kind, depth: cursor.depth, location: at.name, address: at.address,
    };
    switch (cursor.kind) {
      case 'call':
      case 'ret':
        e.target = this.locations[cursor.value].name;
        e.target_address = this.locations[cursor.value].address;
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
        const s = this.syscall.get(cursor.value) as Record<string, bigint | null>;
        const nr = Number(s.nr);
        const name = this.names.get(nr) ?? `syscall_${nr}`;
        e.syscall = cursor.kind === 'syscall'
          ? { nr, name, args: [s.arg0, s.arg1, s.arg2, s.arg3, s.arg4, s.arg5].map((a) => BigInt.asUintN(64, a ?? 0n)) }
          : { nr, name, ret: s.ret };
        break;
      }
      case 'apicall':
      case 'apiret': {
        const c = this.apiCall(cursor.value);
        if (c === undefined) break;
        e.api = cursor.kind === 'apicall'
          ? { function: `${c.module}!${c.name}`, args: c.args.map((a) => BigInt.asUintN(64, a)), call: this.apiFormat.line(c) }
          : { function: `${c.module}!${c.name}`, ret: c.ret };
        break;
      }
    }
    return e;
  }
}
