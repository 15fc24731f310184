-- Schema version 1: one database per trace.
-- Addresses are integers; module-relative forms are resolved once, at ingest, into locations.

CREATE TABLE trace (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  capture_id TEXT NOT NULL,          -- the capture file this database was ingested from
  target TEXT,
  pid INTEGER,
  device TEXT,
  arch TEXT NOT NULL,                -- x64, arm64, ia32, arm
  pointer_size INTEGER NOT NULL,
  platform TEXT,
  frida_version TEXT,
  options TEXT,                      -- JSON: how the recording was asked for
  started_at TEXT,                   -- ISO 8601
  ended_at TEXT,
  end_reason TEXT,                   -- exited, crashed, interrupted, duration, detached, function-returned; NULL: no end frame (cut short)
  end_detail TEXT,
  cost_unit TEXT NOT NULL DEFAULT 'calls', -- what function_stats costs count: instructions, blocks or calls
  ingested_bytes INTEGER NOT NULL DEFAULT 0 -- capture bytes already stored: ingest resumes after them
);

CREATE TABLE threads (
  id INTEGER PRIMARY KEY,            -- OS thread id
  name TEXT,
  first_seen_ns INTEGER,             -- drain time of its first chunk, since the trace started
  last_seen_ns INTEGER,
  events INTEGER NOT NULL DEFAULT 0,
  lost INTEGER NOT NULL DEFAULT 0,   -- events dropped in the target (lossy mode)
  missing INTEGER NOT NULL DEFAULT 0, -- events absent between two chunks (a sequence gap)
  stall_ns INTEGER NOT NULL DEFAULT 0, -- time spent waiting for a full ring to drain (lossless mode)
  ended INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE modules (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  path TEXT NOT NULL,
  base INTEGER NOT NULL,
  size INTEGER NOT NULL,
  load_order INTEGER NOT NULL,       -- map epoch from which it was mapped
  unload_order INTEGER,              -- map epoch from which it was gone; NULL: mapped to the end
  loaded_while_recording INTEGER NOT NULL DEFAULT 0 -- 1: appeared after the first events (dlopen), not in the map at start
);

CREATE TABLE symbols (
  id INTEGER PRIMARY KEY,
  module_id INTEGER NOT NULL REFERENCES modules(id),
  name TEXT NOT NULL,
  offset INTEGER NOT NULL,
  size INTEGER NOT NULL              -- 0 where unknown
);

-- Every distinct address events mention, resolved against the module map live when it ran.
CREATE TABLE locations (
  id INTEGER PRIMARY KEY,
  address INTEGER NOT NULL,
  module_id INTEGER REFERENCES modules(id),
  offset INTEGER,                    -- from the module base
  symbol_id INTEGER REFERENCES symbols(id),
  symbol_offset INTEGER,
  name TEXT NOT NULL                 -- module!symbol+0xoff, module+0xoff or 0xaddress
);

-- Events, a thread's drained run per row, as storedEvent records (schemas/records.json).
-- The events table of a query session decodes them.
CREATE TABLE event_chunks (
  id INTEGER PRIMARY KEY,
  thread_id INTEGER NOT NULL,
  first_seq INTEGER NOT NULL,
  count INTEGER NOT NULL,
  timestamp_ns INTEGER NOT NULL,
  data BLOB NOT NULL
);

-- Every call once more, grouped by callee as storedCall records: the calls to one function
-- are read without decoding the other events.
CREATE TABLE call_lists (
  id INTEGER PRIMARY KEY,
  callee_id INTEGER NOT NULL,
  count INTEGER NOT NULL,
  data BLOB NOT NULL
);

CREATE TABLE blocks (
  id INTEGER PRIMARY KEY,
  location_id INTEGER NOT NULL REFERENCES locations(id),
  start INTEGER NOT NULL,
  end INTEGER NOT NULL,
  code BLOB,                         -- the bytes as compiled; NULL where no compile record came
  executions INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE syscalls (
  id INTEGER PRIMARY KEY,
  thread_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,              -- sequence of the entry
  location_id INTEGER NOT NULL REFERENCES locations(id),
  nr INTEGER NOT NULL,
  arg0 INTEGER, arg1 INTEGER, arg2 INTEGER, arg3 INTEGER, arg4 INTEGER, arg5 INTEGER,
  ret INTEGER,                       -- NULL: it never returned (exit, execve, the trace ended)
  ret_seq INTEGER
);

-- Aggregates kept during ingest, so reports do not rescan events.
CREATE TABLE kind_counts (
  thread_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (thread_id, kind)
) WITHOUT ROWID;

-- Per thread and function (callee location): calls, and costs in trace.cost_unit.
-- total counts a recursive function's outermost activation only.
CREATE TABLE function_stats (
  thread_id INTEGER NOT NULL,
  function_id INTEGER NOT NULL,
  calls INTEGER NOT NULL,
  self_cost INTEGER NOT NULL,
  total_cost INTEGER NOT NULL,
  PRIMARY KEY (thread_id, function_id)
) WITHOUT ROWID;

-- Caller function -> callee function; caller 0: the thread's outermost recorded frame.
CREATE TABLE call_edges (
  thread_id INTEGER NOT NULL,
  caller_id INTEGER NOT NULL,
  callee_id INTEGER NOT NULL,
  calls INTEGER NOT NULL,
  total_cost INTEGER NOT NULL,
  PRIMARY KEY (thread_id, caller_id, callee_id)
) WITHOUT ROWID;

-- Frames still open when ingest last committed, so a resumed ingest continues the same stacks.
CREATE TABLE open_frames (
  thread_id INTEGER NOT NULL,
  position INTEGER NOT NULL,
  function_id INTEGER NOT NULL,
  caller_id INTEGER NOT NULL,
  return_address INTEGER NOT NULL,
  entry_cost INTEGER NOT NULL,
  child_cost INTEGER NOT NULL,
  PRIMARY KEY (thread_id, position)
) WITHOUT ROWID;
