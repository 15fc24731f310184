import { UserError } from '../base/errors.js';
import type { Output } from '../base/output.js';
import type { TraceDb } from '../store/database.js';
import { ApiFormatter } from './api-text.js';
import { storedPrototypes } from '../symbols/prototypes.js';
import { apiCalls, syscalls } from './call-records.js';
import { SyscallFormatter } from './syscall-text.js';
import { hex } from './values.js';
import { toJson } from './json.js';

function recordedEvents(db: TraceDb): string[] {
  const options = JSON.parse((db.prepare('SELECT options FROM trace').pluck().get() as string | null) ?? '{}') as { events?: unknown };
  return Array.isArray(options.events) ? options.events.map(String) : [];
}

/**
 * Library calls in drltrace's log layout, thread by thread, then the module table that
 * `and return to module id:N` refers to.
 */
export async function writeApiLog(db: TraceDb, thread: number | undefined, json: boolean, out: Output): Promise<void> {
  if (!recordedEvents(db).includes('api')) throw new UserError('the trace was recorded without --apis: it holds no library calls');
  const format = new ApiFormatter(storedPrototypes(db));
  if (json) {
    for (const c of apiCalls(db, thread)) {
      if (out.closed) break;
      await out.line(toJson({
        thread_id: c.thread_id, seq: c.seq, function: `${c.module}!${c.name}`, args: c.args.map((a) => BigInt.asUintN(64, a)),
        ret: c.ret, return_address: c.return_address, call: format.line(c),
      }));
    }
    return out.end();
  }
  const modules = db.prepare('SELECT id, name, path, base, size FROM modules ORDER BY load_order, id').all() as
    { id: number; name: string; path: string; base: number; size: number }[];
  const reportIds = new Map(modules.map((m, i) => [m.id, i]));
  for (const call of apiCalls(db, thread)) {
    if (out.closed) break;
    for (const line of format.drltrace(call, call.return_module_id === null ? undefined : reportIds.get(call.return_module_id))) {
      await out.line(line);
    }
  }
  await out.line(`Module Table: count ${modules.length}`);
  await out.line('Columns: id, base, end, name, path');
  for (const [i, m] of modules.entries()) await out.line(`${String(i).padStart(3)}, ${hex(m.base)}, ${hex(m.base + m.size)}, ${m.name}, ${m.path}`);
  await out.end();
}

/** Syscalls in strace's one-line form, each led by its thread. */
export async function writeSyscallLog(db: TraceDb, thread: number | undefined, json: boolean, out: Output): Promise<void> {
  if (!recordedEvents(db).includes('syscall')) throw new UserError('the trace was recorded without syscall events (--events ...,syscall)');
  const format = new SyscallFormatter(db.prepare('SELECT arch FROM trace').pluck().get() as string);
  for (const s of syscalls(db, thread)) {
    if (out.closed) break;
    await out.line(json
      ? toJson({ thread_id: s.thread_id, seq: s.seq, nr: s.nr, name: format.name(s.nr), args: s.args.map((a) => BigInt.asUintN(64, a)), ret: s.ret, call: format.line(s, s.memory) })
      : `[tid ${s.thread_id}] ${format.line(s, s.memory)}`);
  }
  await out.end();
}
