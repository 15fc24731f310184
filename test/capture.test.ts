import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, truncateSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { CaptureReader } from '../host/capture/reader.js';
import { CaptureWriter } from '../host/capture/writer.js';
import { crc32 } from 'node:zlib';
import { ChunkError, chunksOf, writeChunkHeader } from '../host/capture/chunks.js';
import { RecordDecoder, writeRecord } from '../host/capture/ring-records.js';
import { Arch, CaptureHeader, FrameHeader, Kind, SLOT_SIZE } from '../host/schema/layout.generated.js';
import { tempDir } from './helpers.js';

/** Frame start offsets, walked with the schema's layout: the file header, then frames of a header and `length` bytes. */
function frameOffsets(file: Buffer): number[] {
  const offsets: number[] = [];
  for (let at = CaptureHeader.size; at < file.length; at += FrameHeader.size + file.readUInt32LE(at + FrameHeader.length)) offsets.push(at);
  return offsets;
}

function writeSample(path: string): Buffer[] {
  const payloads = [Buffer.from('one'), Buffer.alloc(5000, 7), Buffer.from('three'), Buffer.alloc(100, 9)];
  const w = CaptureWriter.create(path, { arch: 'arm64', pointerSize: 8 });
  w.appendMeta({ type: 'thread', tid: 1 });
  for (const p of payloads) w.appendEvents(p);
  w.close();
  return payloads;
}

test('frames read back exactly as written, with the header fields', () => {
  const path = join(tempDir(), 'a.stcap');
  const payloads = writeSample(path);
  const r = CaptureReader.open(path);
  assert.equal(r.info.arch, 'arm64');
  assert.equal(r.info.pointerSize, 8);
  const scan = r.scan();
  assert.equal(scan.frames, 5);
  assert.equal(scan.truncated, undefined);
  const frames = [...r.frames(0, scan.end)].map((f) => ({ type: f.type, payload: Buffer.from(f.payload) }));
  r.close();
  assert.deepEqual(frames.map((f) => f.type), ['meta', 'events', 'events', 'events', 'events']);
  assert.deepEqual(JSON.parse(frames[0].payload.toString()), { type: 'thread', tid: 1 });
  frames.slice(1).forEach((f, i) => assert.ok(f.payload.equals(payloads[i])));
});

test('a capture whose header names an architecture stalk-trace does not record is refused in one sentence', () => {
  const path = join(tempDir(), 'a.stcap');
  writeSample(path);
  const file = readFileSync(path);
  // The first code past those it records: 3, which ia32 had.
  file.writeUInt8(Math.max(...Object.values(Arch)) + 1, CaptureHeader.arch);
  writeFileSync(path, file);
  assert.throws(() => CaptureReader.open(path), { message: `${path}: capture header names an unknown architecture` });
});

test('a new capture never overwrites an existing file', () => {
  const path = join(tempDir(), 'a.stcap');
  writeSample(path);
  assert.throws(() => CaptureWriter.create(path, { arch: 'x64', pointerSize: 8 }), /EEXIST/);
});

test('a last frame cut short anywhere is dropped and everything before it kept', () => {
  const dir = tempDir();
  const original = join(dir, 'a.stcap');
  writeSample(original);
  const file = readFileSync(original);
  const offsets = frameOffsets(file);
  const last = offsets[offsets.length - 1];
  // Cut inside the last frame's header, and inside its payload.
  for (const cut of [last + 5, last + 12, last + 60]) {
    const path = join(dir, `cut-${cut}.stcap`);
    writeFileSync(path, file.subarray(0, cut));
    const r = CaptureReader.open(path);
    const scan = r.scan();
    r.close();
    assert.equal(scan.frames, offsets.length - 1);
    assert.equal(scan.end, last);
    assert.equal(scan.truncated?.offset, last);
  }
});

test('a zero-filled tail after the last whole frame counts as torn, not corrupt', () => {
  const path = join(tempDir(), 'a.stcap');
  writeSample(path);
  const size = readFileSync(path).length;
  appendFileSync(path, Buffer.alloc(4096));
  const r = CaptureReader.open(path);
  const scan = r.scan();
  r.close();
  assert.equal(scan.end, size);
  assert.equal(scan.truncated?.reason, 'zero-filled tail');
});

test('damage before the last frame is reported with its byte offset', () => {
  const dir = tempDir();
  const original = join(dir, 'a.stcap');
  writeSample(original);
  const file = readFileSync(original);
  const offsets = frameOffsets(file);

  const payloadHit = Buffer.from(file);
  payloadHit[offsets[2] + 12 + 100] ^= 0xff;
  writeFileSync(join(dir, 'p.stcap'), payloadHit);
  const p = CaptureReader.open(join(dir, 'p.stcap'));
  assert.throws(() => p.scan(), new RegExp(`corrupt at byte offset ${offsets[2]}: payload checksum mismatch`));
  p.close();

  const lengthHit = Buffer.from(file);
  lengthHit.writeUInt32LE(1 << 20, offsets[1]);
  writeFileSync(join(dir, 'l.stcap'), lengthHit);
  const l = CaptureReader.open(join(dir, 'l.stcap'));
  assert.throws(() => l.scan(), new RegExp(`corrupt at byte offset ${offsets[1]}: frame header checksum mismatch`));
  l.close();
});

test('files that are not captures are refused with the reason', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'text.stcap'), 'hello, this is not a capture at all');
  assert.throws(() => CaptureReader.open(join(dir, 'text.stcap')), /not a stalk-trace capture file/);
  const path = join(dir, 'future.stcap');
  writeSample(path);
  const future = readFileSync(path);
  future.writeUInt16LE(99, 8);
  writeFileSync(path, future);
  assert.throws(() => CaptureReader.open(path), /capture format version 99 is newer/);
  truncateSync(path, 0);
  assert.throws(() => CaptureReader.open(path), /not a stalk-trace capture file/);
});

/** An events frame as the agent appends it (capture.json frameFlags): flags 1, no payload CRC. */
function agentFrame(payload: Buffer, flags = 1): Buffer {
  const header = Buffer.alloc(FrameHeader.size);
  header.writeUInt32LE(payload.length, FrameHeader.length);
  header.writeUInt8(2, FrameHeader.type);
  header.writeUInt8(flags, FrameHeader.flags);
  header.writeUInt16LE(crc32(header.subarray(0, FrameHeader.headerCheck)) & 0xffff, FrameHeader.headerCheck);
  return Buffer.concat([header, payload]);
}

/** Chunks of one-slot records, `records` each (their contents are not read here). */
const agentChunks = (...records: number[]) => Buffer.concat(records.flatMap((n, i) => [
  writeChunkHeader({ threadId: 7, firstSeq: i * 10, recordCount: n, slotCount: n, lost: 0, timestampNs: 0, threadEnded: false, repeats: false }),
  Buffer.alloc(n * SLOT_SIZE, 0x5a),
]));

test('an unchecked frame the agent appended reads back by its chunks, which must fill it exactly', () => {
  const path = join(tempDir(), 'a.stcap');
  writeSample(path);
  const good = agentChunks(3, 5);
  appendFileSync(path, agentFrame(good));
  const r = CaptureReader.open(path);
  const scan = r.scan();
  const last = [...r.frames(0, scan.end)].pop()!;
  r.close();
  assert.deepEqual([scan.frames, scan.truncated, last.type], [6, undefined, 'events']);
  assert.deepEqual([...chunksOf(last.payload)].map((c) => c.recordCount), [3, 5]);

  // Damage inside an unchecked frame shows as chunks that no longer fill it: a bad magic, then a slot count too large.
  for (const damage of [(b: Buffer) => b.writeUInt32LE(0, 0), (b: Buffer) => b.writeUInt32LE(9, 20)]) {
    const damagedPath = join(tempDir(), 'b.stcap');
    writeSample(damagedPath);
    const offset = readFileSync(damagedPath).length;
    const bad = Buffer.from(good);
    damage(bad);
    appendFileSync(damagedPath, Buffer.concat([agentFrame(bad), agentFrame(good)]));
    const d = CaptureReader.open(damagedPath);
    assert.throws(() => d.scan(), { message: `${damagedPath} is corrupt at byte offset ${offset}: its chunks do not fill the frame` });
    d.close();
  }
});

test('a frame with flags this format does not define is damage, named', () => {
  const path = join(tempDir(), 'a.stcap');
  writeSample(path);
  const offset = readFileSync(path).length;
  appendFileSync(path, Buffer.concat([agentFrame(agentChunks(1), 2), agentFrame(agentChunks(1))]));
  const r = CaptureReader.open(path);
  assert.throws(() => r.scan(), { message: `${path} is corrupt at byte offset ${offset}: unknown frame flags 2 (events frame)` });
  r.close();
});

/** One chunk of thread 7: `records` as a ring holds them, repeat records among them. */
function repeatChunk(recordCount: number, records: [kind: number, location: number, target: number][]): Buffer {
  const body = Buffer.alloc(records.length * SLOT_SIZE);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  records.forEach(([kind, location, target], i) => writeRecord(view, i * SLOT_SIZE, kind, location, target));
  return Buffer.concat([writeChunkHeader({ threadId: 7, firstSeq: 0, recordCount, slotCount: records.length, lost: 0, timestampNs: 0,
    threadEnded: false, repeats: true }), body]);
}

test('a chunk with repeat records reads back as the records the thread wrote', () => {
  // ret A, ret B, then that pair 3 times more, then ret C: 9 records in 4 slots.
  const [chunk] = [...chunksOf(repeatChunk(9, [[Kind.ret, 0x10, 1], [Kind.ret, 0x20, 2], [Kind.repeat, 2, 3], [Kind.ret, 0x30, 3]]))];
  assert.deepEqual([chunk.recordCount, chunk.slotCount, chunk.repeats], [9, 9, true]);
  const decoder = new RecordDecoder(true);
  assert.equal(decoder.decode(chunk), 9);
  assert.deepEqual([...decoder.locations.subarray(0, 9)], [0x10, 0x20, 0x10, 0x20, 0x10, 0x20, 0x10, 0x20, 0x30]);
  assert.deepEqual([...decoder.targets.subarray(0, 9)], [1, 2, 1, 2, 1, 2, 1, 2, 3]);
  assert.ok(decoder.kinds.subarray(0, 9).every((k) => k === Kind.ret));
});

test('a repeat record that reaches back past its chunk, or repeats nothing, is damage', () => {
  assert.throws(() => [...chunksOf(repeatChunk(3, [[Kind.ret, 0x10, 1], [Kind.repeat, 2, 1]]))],
    (e: Error) => e instanceof ChunkError && /does not repeat records before it/.test(e.message));
  assert.throws(() => [...chunksOf(repeatChunk(1, [[Kind.ret, 0x10, 1], [Kind.repeat, 1, 0]]))], ChunkError);
  // The header's count is of the records expanded: a count the expansion does not reach is caught where they are decoded.
  const [chunk] = [...chunksOf(repeatChunk(4, [[Kind.ret, 0x10, 1], [Kind.repeat, 1, 4]]))];
  assert.throws(() => new RecordDecoder(true).decode(chunk), /more records than its header says/);
});
