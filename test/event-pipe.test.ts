// The local device's transport, host side: a process owns a pipe, and EventPipe reads it through
// /proc/PID/fd as the recorder reads the agent's, handing on whole chunks only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import { chunksOf, writeChunkHeader } from '../host/capture/chunks.js';
import { writeRecord } from '../host/capture/ring-records.js';
import { EventPipe } from '../host/recording/event-pipe.js';

const RET = 2;

/** Chunks of 1 to 150 return records whose targets count up from 0; 16-byte slots after a 48-byte header. */
function chunkStream(chunks: number): Buffer {
  const parts: Buffer[] = [];
  let n = 0;
  for (let c = 0; c < chunks; c++) {
    const records = 1 + ((c * 37) % 150);
    const body = Buffer.alloc(records * 16);
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    for (let i = 0; i < records; i++) writeRecord(view, i * 16, RET, 0x401000, n++);
    parts.push(writeChunkHeader({ threadId: 7, firstSeq: n - records, recordCount: records, slotCount: records, lost: 0, timestampNs: 0, threadEnded: false }), body);
  }
  return Buffer.concat(parts);
}

/** A process holding both ends of a pipe of its own until its stdin closes; resolves with the two fd numbers. */
async function pipeOwner() {
  const child = spawn('python3', ['-c', 'import os, sys\nr, w = os.pipe()\nprint(r, w, flush=True)\nsys.stdin.read()'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let line = '';
  while (!line.endsWith('\n')) line += String((await once(child.stdout, 'data'))[0]);
  const [read, write] = line.trim().split(' ').map(Number);
  return { child, read, write };
}

test('the pipe hands on whole chunks in order, counts their bytes, and reads what is left at the end', async () => {
  const stream = chunkStream(40);
  // The head ends inside a chunk; the stream's last 100 bytes, a chunk cut short, never come.
  const headBytes = 20_001;
  const cut = 100;
  const { child, read, write } = await pipeOwner();
  const received: Buffer[] = [];
  const pipe = EventPipe.open(child.pid!, read, (chunks) => received.push(Buffer.from(chunks)), (e) => assert.fail(e));
  assert.ok(pipe !== null);
  const writer = openSync(`/proc/${child.pid}/fd/${write}`, 'w');
  try {
    writeSync(writer, stream.subarray(0, headBytes));
    // Read by the event loop: every whole chunk of the head, and not the one it cuts.
    const wholeInHead = [...chunksOf(stream)].reduce((end, c) => {
      const next = end + 48 + c.slotCount * 16;
      return next <= headBytes ? next : end;
    }, 0);
    while (pipe.consumed < wholeInHead) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(pipe.consumed, wholeInHead);
    // The rest is written and read with no turn of the event loop between: finish() reads it.
    writeSync(writer, stream.subarray(headBytes, stream.length - cut));
    const lastChunkStart = stream.length - (48 + [...chunksOf(stream)].at(-1)!.slotCount * 16);
    assert.equal(pipe.finish(), stream.length - cut - lastChunkStart);
    assert.equal(pipe.consumed, lastChunkStart);
    assert.deepEqual(Buffer.concat(received), stream.subarray(0, lastChunkStart));
  } finally {
    closeSync(writer);
    child.stdin!.end();
  }
  await once(child, 'exit');
});

test('a pipe that cannot be opened (no such process) gives null: the recording then uses messages', () => {
  assert.equal(EventPipe.open(2 ** 22 + 1, 3, () => {}, () => {}), null);
});
