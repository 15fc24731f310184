// One ingest run in its own process, so its peak RSS is its own: node ingest-worker.js MODE CAPTURE DB
// (MODE: naive, ours, or insns, which reports instructions where the others report events)
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { CaptureReader } from '../../host/capture/reader.js';
import { chunksOf } from '../../host/capture/chunks.js';
import { RecordDecoder } from '../../host/capture/ring-records.js';
import { callsCarryStackPointer } from '../../host/capture/version.js';
import { ingestCapture } from '../../host/ingest/ingest-capture.js';

const [mode, capture, dbPath] = process.argv.slice(2);

/** The baseline the issue names: one prepared INSERT per event, one transaction, WAL. */
function naive(): number {
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE events (thread INTEGER, seq INTEGER, kind INTEGER, location INTEGER, target INTEGER, depth INTEGER)');
  const insert = db.prepare('INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)');
  const reader = CaptureReader.open(capture);
  const scan = reader.scan();
  const records = new RecordDecoder(callsCarryStackPointer(reader.info));
  let events = 0;
  db.transaction(() => {
    for (const frame of reader.frames(0, scan.end)) {
      if (frame.type !== 'events') continue;
      for (const chunk of chunksOf(frame.payload)) {
        const { kinds, locations, targets } = records;
        // Records carry no depth: the baseline stores none.
        for (let i = 0, n = records.decode(chunk); i < n; i++) insert.run(chunk.threadId, chunk.firstSeq + i, kinds[i], locations[i], targets[i], 0);
        events += chunk.recordCount;
      }
    }
  })();
  reader.close();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return events;
}

/** Ingests as stalk-trace does, then counts what was stored with `countSql`. */
function ours(countSql: string): number {
  ingestCapture(capture, dbPath, () => {});
  const db = new Database(dbPath, { readonly: true });
  const count = db.prepare(countSql).pluck().get() as number;
  db.close();
  return count;
}

const start = performance.now();
const events = mode === 'naive' ? naive() : ours(mode === 'insns' ? 'SELECT sum(insns) FROM threads' : 'SELECT sum(count) FROM event_chunks');
const seconds = (performance.now() - start) / 1000;
process.stdout.write(JSON.stringify({
  events, seconds, bytes: statSync(dbPath).size, maxRssBytes: process.resourceUsage().maxRSS * 1024,
}));
