import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiPrototype, ChunkHeader, Kind, RingRecord, SLOT_SIZE } from '../host/schema/layout.generated.js';
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
    const [line, protoLine] = spawnSync(exe, { encoding: 'utf8' }).stdout.trim().split('\n');
    const out = JSON.parse(line);
    // The prototype bytes the agent writes are read through this struct.
    assert.deepEqual(JSON.parse(protoLine), ApiPrototype);

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
