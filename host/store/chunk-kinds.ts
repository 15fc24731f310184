import type { Statement } from 'better-sqlite3';
import { StoredEvent } from '../schema/layout.generated.js';
import type { TraceDb } from './database.js';
import { decodeEventChunk } from './stored-events.js';

/** How event_chunk_kinds rows are written: storeKindCounts runs it. */
export const prepareKindCounts = (db: TraceDb) => db.prepare('INSERT INTO event_chunk_kinds (chunk_id, kind, count) VALUES (?, ?, ?)');

/** A chunk's events of each kind value, from `counts` indexed by kind. */
export function storeKindCounts(insert: Statement, chunkId: number, counts: Uint32Array): void {
  for (let kind = 0; kind < counts.length; kind++) {
    if (counts[kind] !== 0) insert.run(chunkId, kind, counts[kind]);
  }
}

/** Chunks stored before schema 6 get the kind counts later ones are written with (EventWriter). */
export function countChunkKinds(db: TraceDb): void {
  const insert = prepareKindCounts(db);
  const chunk = db.prepare('SELECT thread_id, codec, data FROM event_chunks WHERE id = ?');
  const counts = new Uint32Array(256);
  for (const id of db.prepare('SELECT id FROM event_chunks ORDER BY id').pluck().all() as number[]) {
    const { thread_id, codec, data } = chunk.get(id) as { thread_id: number; codec: number; data: Buffer };
    const records = decodeEventChunk(codec, data, thread_id);
    counts.fill(0);
    for (let at = StoredEvent.kind; at < records.length; at += StoredEvent.size) counts[records[at]]++;
    storeKindCounts(insert, id, counts);
  }
}
