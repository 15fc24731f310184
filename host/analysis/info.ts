import type { TraceDb } from '../store/database.js';
import { printable, table } from '../base/text-table.js';

export interface ThreadInfo {
  tid: number;
  name: string | null;
  events: number;
  lost: number;
  missing: number;
  stallNs: number;
  ended: boolean;
}

export interface ModuleInfo {
  name: string;
  path: string;
  base: string;
  size: number;
  /** Loaded after the recording began (dlopen), rather than mapped at its start. */
  loadedLater: boolean;
  unloaded: boolean;
}

export interface TraceInfo {
  target: string | null;
  pid: number | null;
  device: string | null;
  arch: string;
  pointerSize: number;
  platform: string | null;
  fridaVersion: string | null;
  startedAt: string | null;
  endedAt: string | null;
  /** How the recording ended; null when it has no end frame (the recorder or the machine stopped). */
  endReason: string | null;
  endDetail: string | null;
  costUnit: string;
  events: number;
  eventsByKind: Record<string, number>;
  lost: number;
  missing: number;
  threads: ThreadInfo[];
  modules: ModuleInfo[];
  symbols: number;
  locations: number;
  blocks: number;
  syscalls: number;
  /** --events insn: instructions recorded, and register and memory values their records did not carry. */
  insns: number;
  unrecordedRegs: number;
  unrecordedMem: number;
}

/** A trace's summary, from the aggregates ingest keeps: no event is read. */
export function traceInfo(db: TraceDb): TraceInfo {
  const t = db.prepare(`SELECT target, pid, device, arch, pointer_size, platform, frida_version, started_at, ended_at,
    end_reason, end_detail, cost_unit FROM trace`).get() as Record<string, string & number> | undefined;
  if (!t) throw new Error('trace database has no trace row');
  const count = (table: string) => db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  const eventsByKind = Object.fromEntries(
    (db.prepare('SELECT kind, sum(count) AS n FROM kind_counts GROUP BY kind ORDER BY n DESC, kind').all() as { kind: string; n: number }[])
      .map((r) => [r.kind, r.n]));
  const threads = (db.prepare('SELECT id, name, events, lost, missing, stall_ns, ended FROM threads ORDER BY id').all() as
    Record<string, number & string>[]).map((r) => ({
    tid: r.id, name: r.name, events: r.events, lost: r.lost, missing: r.missing, stallNs: r.stall_ns, ended: !!r.ended,
  }));
  const insns = db.prepare(`SELECT coalesce(sum(insns), 0) AS insns, coalesce(sum(unrecorded_regs), 0) AS regs,
    coalesce(sum(unrecorded_mem), 0) AS mem FROM threads`).get() as { insns: number; regs: number; mem: number };
  return {
    target: t.target, pid: t.pid, device: t.device, arch: t.arch, pointerSize: t.pointer_size, platform: t.platform,
    fridaVersion: t.frida_version, startedAt: t.started_at, endedAt: t.ended_at, endReason: t.end_reason,
    endDetail: t.end_detail, costUnit: t.cost_unit,
    events: Object.values(eventsByKind).reduce((a, b) => a + b, 0),
    eventsByKind,
    lost: threads.reduce((a, th) => a + th.lost, 0),
    missing: threads.reduce((a, th) => a + th.missing, 0),
    threads,
    modules: (db.prepare('SELECT name, path, base, size, loaded_while_recording, unload_order FROM modules ORDER BY id').all() as
      { name: string; path: string; base: number; size: number; loaded_while_recording: number; unload_order: number | null }[])
      .map((m) => ({
        name: m.name, path: m.path, base: `0x${m.base.toString(16)}`, size: m.size,
        loadedLater: m.loaded_while_recording === 1, unloaded: m.unload_order !== null,
      })),
    symbols: count('symbols'),
    locations: count('locations'),
    blocks: count('blocks'),
    syscalls: count('syscalls'),
    insns: insns.insns,
    unrecordedRegs: insns.regs,
    unrecordedMem: insns.mem,
  };
}

const n = (v: number) => v.toLocaleString('en-US');
const MODULES_SHOWN = 20;

function duration(info: TraceInfo): string {
  if (!info.startedAt || !info.endedAt) return 'unknown';
  const ms = Date.parse(info.endedAt) - Date.parse(info.startedAt);
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(3)} s` : 'unknown';
}

export function formatInfo(info: TraceInfo): string {
  const ended = info.endReason
    ? `${info.endReason}${info.endDetail ? ` (${info.endDetail})` : ''}`
    : 'cut short: no end frame (the recorder, the target or the machine stopped)';
  const kinds = Object.entries(info.eventsByKind).map(([k, v]) => `${k} ${n(v)}`).join(', ');
  const lines = [
    `target    ${info.target ?? '?'}${info.pid !== null ? ` (pid ${info.pid})` : ''} on ${info.device ?? '?'}`,
    `platform  ${info.platform ?? '?'} ${info.arch}, ${info.pointerSize * 8}-bit${info.fridaVersion ? `, Frida ${info.fridaVersion}` : ''}`,
    `time      ${info.startedAt ?? '?'} .. ${info.endedAt ?? '?'} (${duration(info)})`,
    `ended     ${ended}`,
    `events    ${n(info.events)}${kinds ? `: ${kinds}` : ''}`,
    `lost      ${n(info.lost)} dropped in the target${info.missing ? `, ${n(info.missing)} missing (between chunks, or instruction runs without their layout or not finished)` : ''}`,
    `addresses ${n(info.locations)} distinct, ${n(info.blocks)} blocks, ${n(info.syscalls)} syscalls`,
    `modules   ${n(info.modules.length)} (${n(info.symbols)} symbols)`,
  ];
  if (info.insns > 0 || info.unrecordedRegs > 0 || info.unrecordedMem > 0) {
    lines.splice(lines.length - 1, 0, `insns     ${n(info.insns)} instructions recorded; values not recorded: ` +
      `${n(info.unrecordedRegs)} register, ${n(info.unrecordedMem)} memory`);
  }
  const shownModules = info.modules.slice(0, MODULES_SHOWN);
  lines.push(...table(['name', 'base', 'size', 'when', 'path'], shownModules.map((m) => [
    printable(m.name), m.base, n(m.size), `${m.loadedLater ? 'loaded later' : 'at start'}${m.unloaded ? ', unloaded' : ''}`, printable(m.path),
  ]), [false, false, true, false, false]).map((l) => `  ${l}`));
  if (info.modules.length > MODULES_SHOWN) lines.push(`  … ${info.modules.length - MODULES_SHOWN} more (stalk-trace query TRACE "SELECT * FROM modules")`);
  lines.push(`threads   ${info.threads.length}`);
  const rows = info.threads.map((th) => [
    String(th.tid), printable(th.name ?? ''), n(th.events), n(th.lost + th.missing), `${(th.stallNs / 1e6).toFixed(1)} ms`, th.ended ? 'yes' : 'no']);
  lines.push(...table(['tid', 'name', 'events', 'lost', 'stalled', 'ended'], rows, [false, false, true, true, true, false]).map((l) => `  ${l}`));
  return lines.join('\n');
}
