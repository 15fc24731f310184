import type { Output } from '../../base/output.js';
import type { TraceDb } from '../../store/database.js';
import { eventCursor } from '../../store/stored-events.js';
import { syscallNames } from '../../symbols/syscall-table.js';
import { locationNames, threadName } from '../trace-facts.js';

/**
 * Chrome trace JSON (chrome://tracing, Perfetto): a track per thread, each call a B/E slice,
 * each syscall an instant. The trace has no per-event clock, so ts is the event's sequence
 * number in its thread, in µs: slices show how many events a call spans, not how long it took.
 */
export async function writeChrome(db: TraceDb, threads: number[], out: Output): Promise<void> {
  const trace = db.prepare('SELECT target, pid, arch FROM trace').get() as { target: string; pid: number; arch: string };
  const names = locationNames(db);
  const syscalls = syscallNames(trace.arch);
  const syscallNr = db.prepare('SELECT nr FROM syscalls WHERE id = ?').pluck();
  const pid = trace.pid;
  let first = true;
  const emit = async (e: Record<string, unknown>) => {
    await out.write(`${first ? '' : ',\n'}${JSON.stringify(e)}`);
    first = false;
  };
  await out.write('{"traceEvents":[\n');
  await emit({ name: 'process_name', cat: '__metadata', ph: 'M', ts: 0, pid, tid: 0, args: { name: trace.target } });
  for (const tid of threads) {
    if (out.closed) return;
    await emit({ name: 'thread_name', cat: '__metadata', ph: 'M', ts: 0, pid, tid, args: { name: threadName(db, tid) ?? `thread ${tid}` } });
    const open: { name: string; depth: number }[] = [];
    const close = async (ts: number, downTo: number) => {
      while (open.length > 0 && open[open.length - 1].depth >= downTo) {
        const f = open.pop()!;
        await emit({ name: f.name, cat: 'call', ph: 'E', ts, pid, tid, args: {} });
      }
    };
    const cursor = eventCursor(db, { thread: tid });
    let last = 0;
    while (cursor.next() && !out.closed) {
      last = cursor.seq;
      if (cursor.kind === 'call') {
        const name = names[cursor.value];
        open.push({ name, depth: cursor.depth });
        await emit({ name, cat: 'call', ph: 'B', ts: cursor.seq, pid, tid, args: { seq: cursor.seq, from: names[cursor.locationId] } });
      } else if (cursor.kind === 'ret') {
        // A return closes the frame of its depth and any a longjmp left open above it.
        if (open.some((f) => f.depth === cursor.depth)) await close(cursor.seq, cursor.depth);
      } else if (cursor.kind === 'syscall') {
        const nr = syscallNr.get(cursor.value) as number;
        await emit({ name: syscalls.get(nr) ?? `syscall_${nr}`, cat: 'syscall', ph: 'i', s: 't', ts: cursor.seq, pid, tid, args: { nr } });
      }
    }
    await close(last + 1, -Infinity);
  }
  await out.write('\n],"displayTimeUnit":"ns","otherData":{"time":"event sequence numbers, not wall-clock time","producer":"stalk-trace"}}\n');
  await out.flush();
}
