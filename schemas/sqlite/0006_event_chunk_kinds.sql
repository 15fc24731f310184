-- Schema version 6. How many events of each kind every event_chunks row holds, written with the
-- row: the events table skips the chunks without a kind a query asks for, and answers a query
-- that reads only thread_id and kind without decompressing anything. Upgrading a trace to this
-- version counts the chunks it already holds (host/store/database.ts).
CREATE TABLE event_chunk_kinds (
  chunk_id INTEGER NOT NULL,         -- event_chunks.id
  kind INTEGER NOT NULL,             -- schemas/records.json kinds
  count INTEGER NOT NULL,
  PRIMARY KEY (chunk_id, kind)
) WITHOUT ROWID;
