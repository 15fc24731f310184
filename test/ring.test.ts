// The in-target ring buffer (cmodule/ring.c), compiled natively by every C compiler found
// (tcc is the family Frida's CModule uses) and driven by real threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packagePath } from '../host/base/paths.js';
import { chunkHeadersOf, chunksOf } from '../host/capture/chunks.js';
import { CaptureReader } from '../host/capture/reader.js';
import { CaptureWriter } from '../host/capture/writer.js';
import { FrameFollower } from '../host/capture/frame-follower.js';
import { RecordDecoder, recordSlots, writeRecord } from '../host/capture/ring-records.js';
import { Kind, RingRecord, SLOT_SIZE } from '../host/schema/layout.generated.js';
import { cCompilers, tempDir } from './helpers.js';

const compilers = cCompilers('the in-target ring buffer, compiled natively');

/** One ring record, its payload given as 8-byte words. */
function ringRecord(kind: number, location: number, target: number, words: bigint[] = []): Buffer {
  const payload = Buffer.alloc(8 * words.length);
  words.forEach((w, i) => payload.writeBigUInt64LE(BigInt.asUintN(64, w), 8 * i));
  const b = Buffer.alloc(SLOT_SIZE * recordSlots(payload.length));
  writeRecord(new DataView(b.buffer, b.byteOffset, b.length), 0, kind, location, target, payload);
  return b;
}

/**
 * Records as a thread under --events insn writes them, `iterations` of a loop: a hash-loop run
 * (layout 1) each time, a run of 64-bit values that change whole (layout 2) and one sharing
 * layout 1's pack slot (layout 17) some of the time, calls, returns and a repeating block
 * between, a run too wide to pack now and then, and a run still open at the end.
 */
function insnRecords(iterations: number): Buffer {
  const out: Buffer[] = [];
  let h = 2166136261;
  let random = 0x9e3779b97f4a7c15n;
  const table = 0x555555558040n;
  for (let i = 0; i < iterations; i++) {
    const index = BigInt(h & 255);
    const loaded = BigInt(Math.imul(h & 255, 0x9e3779b1) >>> 0);
    h = Math.imul((h ^ Number(loaded)) >>> 0, 16777619) >>> 0;
    out.push(ringRecord(Kind.insn, 0x401000, 1, [index, table + index * 4n, loaded, BigInt(h), BigInt(i & 255),
      table + BigInt(i & 255) * 4n, BigInt(h), BigInt(i + 1), 0x246n, 0x7ffe0000n - BigInt(i % 16) * 8n]));
    if (i % 3 === 0) {
      random = (random * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
      out.push(ringRecord(Kind.insn, 0x402000, 2, [random, random >> 7n, ~random, 0n, BigInt(i), random ^ 0xffn]));
    }
    if (i % 50 === 25) out.push(ringRecord(Kind.insn, 0x403000, 17, [BigInt(i), BigInt(i * 2)]));
    if (i % 7 === 0) out.push(ringRecord(Kind.call, 0x401100, 0x405000, [0x7ffe0000n, 5n]), ringRecord(Kind.ret, 0x405010, 0x401105));
    if (i % 50 === 0) for (let k = 0; k < 5; k++) out.push(ringRecord(Kind.block, 0x406000, 0x406020));
    if (i % 997 === 0) out.push(ringRecord(Kind.insn, 0x407000, 3, Array.from({ length: 500 }, (_, w) => BigInt(i * w))));
  }
  out.push(ringRecord(Kind.insnopen, 0x401000, 1, Array.from({ length: 10 }, () => 0n)));
  return Buffer.concat(out);
}

interface Outcome {
  written: number; received: number; lost: number; stalls: number; stallNs: number; exited: number; errors: number; writeError: number;
  repeatedChunks: number;
  /** Chunks the writer appended from their rings, not copied by the drain. */
  byReference: number;
}

for (const cc of compilers) {
  const dir = tempDir();
  const exe = join(dir, `ring-stress-${cc}`);
  const build = spawnSync(cc, ['-pthread', '-I', packagePath('cmodule'), '-o', exe,
    packagePath('test', 'native', 'ring-stress.c'), packagePath('cmodule', 'ring.c'), packagePath('cmodule', 'insn-pack.c'), packagePath('test', 'native', 'platform-native.c')], { encoding: 'utf8' });
  /**
   * `hold`: the first take waits until the producers cannot go on without one; `transport`: the
   * outbox is taken, or appended to `capture` by the writer thread, while the link is held or
   * after it was let go of; `repeat`: records come in runs of that many, each a group of 1 to 5
   * records written over and over (see ring-stress.c); `plain`: no record is of a kind a repeat may
   * start with, so the writer appends chunks from the rings themselves.
   */
  const run = (threads: number, records: number, lossy: boolean, takeEveryUs: number, outboxBytes: number, hold = false,
    transport: 'outbox' | 'file' | 'file-host-gone' = 'outbox', capture = '', repeat = 0, plain = false): Outcome => {
    assert.equal(build.status, 0, build.stderr);
    const mode = ['outbox', 'file', 'file-host-gone'].indexOf(transport);
    const r = spawnSync(exe, [threads, records, lossy ? 1 : 0, takeEveryUs, outboxBytes, hold ? 1 : 0, mode, capture, repeat, plain ? 1 : 0].map(String),
      { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  /** An empty file, as the host creates the capture before the agent opens it. */
  const emptyFile = (name: string) => {
    const path = join(dir, name);
    writeFileSync(path, '');
    return path;
  };

  test(`${cc}: every record of every thread arrives once, in order, with payloads intact`, () => {
    const o = run(4, 300_000, false, 1000, 16 << 20);
    assert.deepEqual([o.received, o.lost, o.errors, o.exited], [4 * 300_000, 0, 0, 4]);
  });

  test(`${cc}: records that repeat a group before them arrive as repeat records, which expand to every record in order`, () => {
    // ring-stress checks every record after expanding the repeats itself.
    const o = run(2, 300_000, false, 1000, 16 << 20, false, 'outbox', '', 50);
    assert.deepEqual([o.received, o.lost, o.errors, o.exited], [2 * 300_000, 0, 0, 2]);
    assert.ok(o.repeatedChunks > 0, JSON.stringify(o));
    // Records that never repeat (every one carries its own number) are copied as they are.
    assert.equal(run(2, 100_000, false, 1000, 16 << 20).repeatedChunks, 0);
  });

  const packer = join(dir, `pack-check-${cc}`);
  const packerBuild = spawnSync(cc, ['-pthread', '-I', packagePath('cmodule'), '-o', packer, packagePath('test', 'native', 'pack-check.c'),
    packagePath('cmodule', 'ring.c'), packagePath('cmodule', 'insn-pack.c'), packagePath('test', 'native', 'platform-native.c')], { encoding: 'utf8' });
  /** `records` through the drain with insn packing `mode`: the outbox it filled. */
  const pack = (records: Buffer, mode: 'always' | 'slow-sink' | 'fast-sink'): Buffer => {
    assert.equal(packerBuild.status, 0, packerBuild.stderr);
    const input = join(dir, `pack-in-${cc}`);
    const output = join(dir, `pack-out-${cc}`);
    writeFileSync(input, records);
    const r = spawnSync(packer, [input, output, mode], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(output);
  };
  /** The records the outbox's chunks read back as, but for the stall records the thread wrote when it waited for the drain. */
  const expanded = (outbox: Buffer) => {
    const records: Buffer[] = [];
    for (const c of chunksOf(outbox)) {
      const bytes = Buffer.from(c.records.buffer, c.records.byteOffset, c.records.byteLength);
      for (let at = 0; at < bytes.length;) {
        const end = at + SLOT_SIZE * (1 + bytes[at + RingRecord.aux]);
        if (bytes[at + RingRecord.kind] !== Kind.stall) records.push(bytes.subarray(at, end));
        at = end;
      }
    }
    return Buffer.concat(records);
  };

  test(`${cc}: insn records packed by the drain read back as the records the thread wrote, in under half the bytes`, () => {
    // 6,000 iterations fit in the ring, so the drain sends them in whole blocks.
    const records = insnRecords(6_000);
    const outbox = pack(records, 'always');
    assert.ok(expanded(outbox).equals(records), 'the expanded records differ from those written');
    assert.ok(outbox.length < records.length / 2, `${outbox.length} bytes sent for ${records.length}`);
    assert.ok([...chunkHeadersOf(outbox)].every((c) => c.recordCount === 0 || c.packs));
    // Drained while they are written, in chunks cut wherever the drain happened to look.
    const more = insnRecords(60_000);
    assert.ok(expanded(pack(more, 'always')).equals(more), 'the expanded records differ from those written');
  });

  test(`${cc}: on the local device the drain packs only once the outbox holds 4 MiB not yet taken, and only for a slow sink`, () => {
    const records = insnRecords(150_000);
    const fast = pack(records, 'fast-sink');
    assert.ok(expanded(fast).equals(records), 'the expanded records differ from those written');
    assert.equal([...chunkHeadersOf(fast)].filter((c) => c.packs).length, 0);
    const outbox = pack(records, 'slow-sink');
    assert.ok(expanded(outbox).equals(records), 'the expanded records differ from those written');
    let start = 0;
    const seen = { before: 0, after: 0 };
    for (const c of chunkHeadersOf(outbox)) {
      if (c.recordCount >= 100) {
        assert.equal(c.packs, start >= 4 << 20, `the chunk at ${start}`);
        seen[start >= 4 << 20 ? 'after' : 'before']++;
      }
      start = c.end;
    }
    assert.ok(seen.before > 0 && seen.after > 0, JSON.stringify(seen));
  });

  test(`${cc}: lossless: when the agent is slow the threads wait, and say for how long`, () => {
    // 3.2 MB a thread against a 1 MiB ring and a 256 KiB outbox, not taken until every ring is full.
    const o = run(3, 200_000, false, 1000, 256 << 10, true);
    assert.deepEqual([o.received, o.lost, o.errors], [3 * 200_000, 0, 0]);
    assert.ok(o.stalls > 0 && o.stallNs > 0, JSON.stringify(o));
  });

  test(`${cc}: lossy: when the agent is slow records are dropped, and every drop is counted`, () => {
    // Not taken until every producer is done: what neither ring nor outbox could hold was dropped.
    const o = run(3, 200_000, true, 1000, 256 << 10, true);
    assert.equal(o.errors, 0);
    assert.ok(o.lost > 0, JSON.stringify(o));
    assert.equal(o.received + o.lost, o.written);
    assert.equal(o.stalls, 0);
  });

  test(`${cc}: appended to the capture, every record arrives once, in order, in whole frames holding the bytes written`, () => {
    const capture = emptyFile(`file-${cc}`);
    const o = run(4, 300_000, false, 1000, 16 << 20, false, 'file', capture);
    assert.deepEqual([o.received, o.lost, o.errors, o.exited, o.writeError], [4 * 300_000, 0, 0, 4, 0]);
    assert.ok(statSync(capture).size > 4 * 300_000 * 16, 'the frames hold every record');
    // Calls and returns may repeat: every chunk was copied.
    assert.equal(o.byReference, 0);
  });

  test(`${cc}: appended by the writer from the rings themselves (records no repeat starts with), every record arrives once, in order`, () => {
    const capture = emptyFile(`plain-${cc}`);
    const o = run(4, 300_000, false, 1000, 16 << 20, false, 'file', capture, 0, true);
    assert.deepEqual([o.received, o.lost, o.errors, o.exited, o.writeError], [4 * 300_000, 0, 0, 4, 0]);
    assert.ok(o.byReference > 0, JSON.stringify(o));
    assert.ok(statSync(capture).size > 4 * 300_000 * 16, 'the frames hold every record');
  });

  test(`${cc}: lossy, appended from the rings themselves: what the rings dropped is counted, and the rest arrives`, () => {
    const o = run(3, 200_000, true, 1000, 256 << 10, false, 'file', emptyFile(`lossy-plain-${cc}`), 0, true);
    assert.deepEqual([o.errors, o.writeError], [0, 0]);
    assert.equal(o.received + o.lost, o.written);
    assert.ok(o.byReference > 0, JSON.stringify(o));
  });

  test(`${cc}: repeats appended to the capture are read back expanded, each record as the thread wrote it`, () => {
    const capture = join(dir, `repeats-${cc}.stcap`);
    const host = CaptureWriter.create(capture, { arch: 'x64', pointerSize: 8 });
    const hostEnd = host.size;
    host.close();
    const o = run(1, 90_000, false, 1000, 16 << 20, false, 'file', capture, 1000);
    assert.deepEqual([o.received, o.errors, o.writeError], [90_000, 0, 0]);
    const reader = CaptureReader.open(capture);
    const decoder = new RecordDecoder(true);
    const targets: number[] = [];
    for (const frame of reader.frames(hostEnd, reader.scan().end)) {
      // However the drain cut them, a chunk (64 KiB of ring at most, so 6 runs' worth) sends each run as one copy of its group of
      // up to 5 records of up to 64 bytes, a repeat record, and at most 4 records of a last copy cut short.
      let start = 0;
      for (const { end } of chunkHeadersOf(frame.payload)) {
        assert.ok(end - start <= 48 + 6 * (5 * 64 + 16 + 4 * 64), `a chunk of ${end - start} bytes`);
        start = end;
      }
      for (const chunk of chunksOf(frame.payload)) {
        const count = decoder.decode(chunk);
        for (let i = 0; i < count; i++) if (decoder.kinds[i] !== Kind.stall) targets.push(decoder.targets[i]);
      }
    }
    reader.close();
    // Runs of 1,000 records, run r a group of 1 + (7r + 3) % 5 numbers from 8r over and over.
    assert.equal(targets.length, 90_000);
    const numberOf = (i: number) => {
      const run = Math.floor(i / 1000);
      return run * 8 + ((i % 1000) % (1 + ((7 * run + 3) % 5)));
    };
    const wrong = targets.findIndex((t, i) => t !== numberOf(i));
    assert.equal(wrong, -1, `record ${wrong} carries ${targets[wrong]}`);
  });

  test(`${cc}: lossy, appended to the capture: what the rings dropped is counted, and the rest arrives`, () => {
    const o = run(3, 200_000, true, 1000, 256 << 10, true, 'file', emptyFile(`lossy-${cc}`));
    assert.equal(o.errors, 0);
    assert.equal(o.received + o.lost, o.written);
    assert.equal(o.writeError, 0);
  });

  test(`${cc}: once the host has let go of the link nothing more is written, and no thread dies or waits (a host that died)`, () => {
    // run() asserts the exit status 0: no thread was left waiting for a drain.
    for (const plain of [false, true]) {
      const capture = emptyFile(`gone-${plain}-${cc}`);
      const o = run(4, 300_000, false, 1000, 256 << 10, false, 'file-host-gone', capture, 0, plain);
      assert.deepEqual([o.errors, o.writeError], [0, -2]);
      assert.equal(statSync(capture).size, 0);
    }
  });

  test(`${cc}: a capture that refuses writes (a full disk) stops the writing with its errno, and no thread dies or waits`, (t) => {
    // The kernel's full device, made in this test's own folder: every write fails with ENOSPC.
    const full = join(dir, `full-${cc}`);
    if (spawnSync('mknod', [full, 'c', '1', '7']).status !== 0) {
      t.skip('making a device node needs root');
      return;
    }
    // Records left in the rings for the writer too: their blocks are the threads' again though never written.
    for (const plain of [false, true]) {
      const o = run(4, 300_000, false, 1000, 256 << 10, false, 'file', full, 0, plain);
      assert.deepEqual([o.errors, o.writeError], [0, 28]);
    }
  });

  test(`${cc}: frames the writer appends after the host's are followed whole and read back by the capture reader`, () => {
    // The host's part of a capture, as a recording writes it before the agent starts appending.
    const capture = join(dir, `host-and-agent-${cc}.stcap`);
    const host = CaptureWriter.create(capture, { arch: 'x64', pointerSize: 8 });
    host.appendMeta({ type: 'trace', target: 'ring-stress', pid: 1, device: 'local', arch: 'x64', pointerSize: 8, platform: 'linux',
      fridaVersion: '17.0.0', options: { events: ['call', 'ret', 'syscall'] }, startedAt: '2026-01-01T00:00:00.000Z' });
    const hostEnd = host.size;
    const seen = { events: 0, threads: new Set<number>() };
    const follower = new FrameFollower(capture, hostEnd, (c) => {
      seen.events += c.recordCount;
      seen.threads.add(c.threadId);
    });
    const o = run(3, 50_000, false, 1000, 1 << 20, false, 'file', capture);
    assert.deepEqual([o.received, o.errors, o.writeError], [3 * 50_000, 0, 0]);
    assert.equal(follower.advance(), statSync(capture).size);
    // Every record, and the stall records a thread wrote if it waited.
    assert.deepEqual([seen.events, [...seen.threads].sort()], [3 * 50_000 + o.stalls, [0, 1, 2]]);

    // A frame its writer was killed in the middle of: not followed, and cut back before the end frame.
    const whole = statSync(capture).size;
    appendFileSync(capture, readFileSync(capture).subarray(hostEnd, hostEnd + 100));
    assert.deepEqual([follower.advance(), follower.tail], [whole, 100]);
    host.cutBack(follower.end);
    host.appendMeta({ type: 'end', reason: 'exited', endedAt: '2026-01-01T00:00:01.000Z' });
    host.close();
    follower.close();

    // Read back as ingest reads a capture: whole frames, their chunks' records all there.
    const reader = CaptureReader.open(capture);
    const scan = reader.scan();
    const frames = { meta: 0, events: 0, records: 0 };
    for (const frame of reader.frames(0, scan.end)) {
      frames[frame.type]++;
      if (frame.type === 'events') for (const chunk of chunksOf(frame.payload)) frames.records += chunk.recordCount;
    }
    reader.close();
    assert.equal(scan.truncated, undefined);
    assert.equal(frames.meta, 2);
    assert.ok(frames.events > 0);
    assert.equal(frames.records, 3 * 50_000 + o.stalls);
  });
}
