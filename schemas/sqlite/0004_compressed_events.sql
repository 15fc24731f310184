-- Schema version 4. Stored events and call lists are compressed: the codec column says how a
-- row's data holds its records (schemas/records.json storedCodecs). Rows stored before this
-- version hold them as they are (codec 0).
ALTER TABLE event_chunks ADD COLUMN codec INTEGER NOT NULL DEFAULT 0;
ALTER TABLE call_lists ADD COLUMN codec INTEGER NOT NULL DEFAULT 0;
