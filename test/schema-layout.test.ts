import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ApiEntry, ApiPrototype, ChunkHeader, Kind, MEMORY_ENTRY_ALIGN, MEMORY_RETURN_ARG, MemoryFlag, MemoryRead, MemoryReadHeader,
  RingRecord, SilentRange, SLOT_SIZE,
} from '../host/schema/layout.generated.js';
import { packagePath } from '../host/base/paths.js';
import { cCompilers, tempDir } from './helpers.js';

const compilers = cCompilers('the C layout against the TypeScript view');

test('generated TypeScript and C views are up to date with schemas/', () => {
  const r = spawnSync(process.execPath, [packagePath('schemas', 'codegen.mjs'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

const probe = `
#include "layout.generated.h"
#include <stddef.h>
#include <stdio.h>
int main (void) {
  StRecord r;
  const unsigned char * p = (const unsigned char *) &r;
  int i;
  st_record_set (&r, 0xffff7ffff7a1b2c3ULL, ST_KIND_SYSCALL, 3, 0xabcd1234deadbeefULL);
  printf ("{\\"record\\": \\"");
  for (i = 0; i != sizeof (r); i++) printf ("%02x", p[i]);
  printf ("\\", \\"recordSize\\": %d, \\"slot\\": %d, \\"kindCall\\": %d, \\"kindSysret\\": %d", (int) sizeof (StRecord), ST_SLOT_SIZE, ST_KIND_CALL, ST_KIND_SYSRET);
  printf (", \\"chunk\\": {\\"size\\": %d, \\"magic\\": %d, \\"threadId\\": %d, \\"firstSeq\\": %d, \\"recordCount\\": %d, \\"slotCount\\": %d, \\"lost\\": %d, \\"timestampNs\\": %d, \\"flags\\": %d, \\"reserved\\": %d}}\\n",
      (int) sizeof (StChunkHeader), (int) offsetof (StChunkHeader, magic), (int) offsetof (StChunkHeader, thread_id),
      (int) offsetof (StChunkHeader, first_seq), (int) offsetof (StChunkHeader, record_count),
      (int) offsetof (StChunkHeader, slot_count), (int) offsetof (StChunkHeader, lost),
      (int) offsetof (StChunkHeader, timestamp_ns), (int) offsetof (StChunkHeader, flags), (int) offsetof (StChunkHeader, reserved));
  printf ("{\\"size\\": %d, \\"maxArgs\\": %d, \\"argc\\": %d, \\"ret\\": %d, \\"entry\\": %d, \\"exit\\": %d}\\n",
      (int) sizeof (StApiProto), (int) sizeof (((StApiProto *) 0)->entry), (int) offsetof (StApiProto, argc),
      (int) offsetof (StApiProto, ret), (int) offsetof (StApiProto, entry), (int) offsetof (StApiProto, exit));
  printf ("{\\"memoryHeader\\": {\\"size\\": %d, \\"count\\": %d, \\"reserved\\": %d}",
      (int) sizeof (StMemoryHeader), (int) offsetof (StMemoryHeader, count), (int) offsetof (StMemoryHeader, reserved));
  printf (", \\"memoryEntry\\": {\\"size\\": %d, \\"arg\\": %d, \\"flags\\": %d, \\"length\\": %d, \\"reserved\\": %d}",
      (int) sizeof (StMemoryEntry), (int) offsetof (StMemoryEntry, arg), (int) offsetof (StMemoryEntry, flags),
      (int) offsetof (StMemoryEntry, length), (int) offsetof (StMemoryEntry, reserved));
  printf (", \\"apiEntry\\": {\\"size\\": %d, \\"function\\": %d, \\"prototype\\": %d}",
      (int) sizeof (StApiEntry), (int) offsetof (StApiEntry, function), (int) offsetof (StApiEntry, prototype));
  printf (", \\"silentRange\\": {\\"size\\": %d, \\"start\\": %d, \\"end\\": %d}}\\n",
      (int) sizeof (StSilentRange), (int) offsetof (StSilentRange, start), (int) offsetof (StSilentRange, end));
  return 0;
}
`;

for (const cc of compilers) {
  test(`C layout compiled by ${cc} agrees with the TypeScript view`, () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'probe.c'), probe);
    const exe = join(dir, `probe-${cc}`);
    const build = spawnSync(cc, ['-I', packagePath('cmodule'), '-o', exe, join(dir, 'probe.c')], { encoding: 'utf8' });
    assert.equal(build.status, 0, build.stderr);
    const [line, protoLine, structsLine] = spawnSync(exe, { encoding: 'utf8' }).stdout.trim().split('\n');
    const out = JSON.parse(line);
    // The prototype bytes the agent writes are read through this struct.
    assert.deepEqual(JSON.parse(protoLine), ApiPrototype);
    // Memory reads the target writes and the host reads; what the agent hands the transformer.
    const structs = JSON.parse(structsLine);
    assert.deepEqual(structs.memoryHeader, MemoryReadHeader);
    const { entrySize, maxBytes, ...entryFields } = MemoryRead;
    assert.deepEqual(structs.memoryEntry, { size: entrySize, ...entryFields });
    assert.deepEqual(structs.apiEntry, ApiEntry);
    assert.deepEqual(structs.silentRange, SilentRange);

    assert.equal(out.recordSize, SLOT_SIZE);
    assert.equal(out.slot, SLOT_SIZE);
    assert.equal(out.kindCall, Kind.call);
    assert.equal(out.kindSysret, Kind.sysret);
    assert.deepEqual(out.chunk, ChunkHeader);

    // The record C wrote, read back through the TypeScript offsets.
    const b = Buffer.from(out.record, 'hex');
    assert.equal(b.readUIntLE(RingRecord.location, 6), 0x7ffff7a1b2c3);
    assert.equal(b.readUInt8(RingRecord.kind), Kind.syscall);
    assert.equal(b.readUInt8(RingRecord.aux), 3);
    // Bits above 48 (tags, pointer authentication) are cleared.
    assert.equal(b.readUIntLE(RingRecord.target, 6), 0x1234deadbeef);
    assert.equal(b.readUInt16LE(RingRecord.reserved), 0);
  });
}

/** memory-reads.c writes a string and what a return value points to; prints the block as hex. */
const memoryProbe = `
#include "memory-reads.h"
#include <stdio.h>
int main (void) {
  static uint64_t words[64];
  uint8_t * block = (uint8_t *) words;
  const uint8_t * p;
  const uint8_t * end;
  StMemoryReads c;
  st_memory_begin (&c, block, block + sizeof (words));
  st_memory_add_string (&c, 3, (uint64_t) (uintptr_t) "hello", 0);
  st_memory_add_bytes (&c, ST_MEMORY_RETURN_ARG, (uint64_t) (uintptr_t) "\\x01\\x02\\x03", 3);
  end = st_memory_end (&c);
  for (p = block; p != end; p++) printf ("%02x", *p);
  printf ("\\n");
  return 0;
}
`;

for (const cc of compilers) {
  test(`memory reads written by memory-reads.c compiled by ${cc} read back through the TypeScript view`, () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'memory-probe.c'), memoryProbe);
    const exe = join(dir, `memory-probe-${cc}`);
    const build = spawnSync(cc, ['-pthread', '-I', packagePath('cmodule'), '-o', exe, join(dir, 'memory-probe.c'),
      packagePath('cmodule', 'memory-reads.c'), packagePath('test', 'native', 'platform-native.c')], { encoding: 'utf8' });
    assert.equal(build.status, 0, build.stderr);
    const b = Buffer.from(spawnSync(exe, { encoding: 'utf8' }).stdout.trim(), 'hex');

    assert.equal(b.readUInt32LE(MemoryReadHeader.count), 2);
    assert.equal(b.readUInt32LE(MemoryReadHeader.reserved), 0);
    const entry = (at: number) => ({
      arg: b.readUInt8(at + MemoryRead.arg), flags: b.readUInt8(at + MemoryRead.flags),
      reserved: b.readUInt32LE(at + MemoryRead.reserved),
      bytes: b.subarray(at + MemoryRead.entrySize, at + MemoryRead.entrySize + b.readUInt16LE(at + MemoryRead.length)),
    });
    const padded = (n: number) => Math.ceil(n / MEMORY_ENTRY_ALIGN) * MEMORY_ENTRY_ALIGN;
    const first = MemoryReadHeader.size;
    assert.deepEqual(entry(first), { arg: 3, flags: 0, reserved: 0, bytes: Buffer.from('hello') });
    const second = first + MemoryRead.entrySize + padded(5);
    assert.deepEqual(entry(second), { arg: MEMORY_RETURN_ARG, flags: MemoryFlag.bytes, reserved: 0, bytes: Buffer.from([1, 2, 3]) });
    // Each entry's bytes are padded with zeros, and the block ends with the last.
    assert.equal(b.length, second + MemoryRead.entrySize + padded(3));
    assert.ok(b.subarray(first + MemoryRead.entrySize + 5, second).equals(Buffer.alloc(padded(5) - 5)));
  });
}
