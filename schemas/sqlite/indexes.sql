-- Built after the bulk load, and again (IF NOT EXISTS) after every ingest.
CREATE INDEX IF NOT EXISTS call_lists_callee ON call_lists (callee_id, id);
CREATE INDEX IF NOT EXISTS event_chunks_thread ON event_chunks (thread_id, first_seq);
CREATE INDEX IF NOT EXISTS locations_name ON locations (name);
CREATE INDEX IF NOT EXISTS locations_address ON locations (address);
CREATE INDEX IF NOT EXISTS symbols_module ON symbols (module_id, offset);
CREATE INDEX IF NOT EXISTS blocks_location ON blocks (location_id);
CREATE INDEX IF NOT EXISTS syscalls_thread ON syscalls (thread_id, seq);
CREATE INDEX IF NOT EXISTS syscalls_nr ON syscalls (nr);
CREATE INDEX IF NOT EXISTS syscalls_time ON syscalls (time_ns, thread_id, seq);
CREATE INDEX IF NOT EXISTS function_stats_function ON function_stats (function_id);
CREATE INDEX IF NOT EXISTS call_edges_callee ON call_edges (callee_id);
CREATE INDEX IF NOT EXISTS api_calls_thread ON api_calls (thread_id, seq);
CREATE INDEX IF NOT EXISTS api_calls_function ON api_calls (function_id);
