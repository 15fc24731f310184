-- Schema version 2: library calls with their arguments (record --apis), and the memory that
-- syscall and library-call arguments point to, read in the target.

-- The prototypes the recording decoded library calls with (drltrace syntax, parsed).
CREATE TABLE api_prototypes (
  name TEXT PRIMARY KEY,
  ret_type TEXT NOT NULL,            -- void where nothing is returned
  arg_types TEXT NOT NULL            -- JSON array, each type as written, __out/__inout included
) WITHOUT ROWID;

-- Library functions that were called, under the name whose prototype decoded them (a function
-- has several names where aliases share its address).
CREATE TABLE api_functions (
  id INTEGER PRIMARY KEY,
  location_id INTEGER NOT NULL REFERENCES locations(id),
  module TEXT NOT NULL,
  name TEXT NOT NULL
);

CREATE TABLE api_calls (
  id INTEGER PRIMARY KEY,
  thread_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,              -- sequence of the apicall event
  function_id INTEGER NOT NULL REFERENCES api_functions(id),
  return_id INTEGER NOT NULL REFERENCES locations(id), -- where it returns to
  argc INTEGER NOT NULL,             -- arguments recorded (api_args)
  ret INTEGER,                       -- NULL: no return seen (see untracked)
  ret_seq INTEGER,
  untracked INTEGER NOT NULL DEFAULT 0 -- 1: nested too deep in other library calls for its return to be watched
);

CREATE TABLE api_args (
  call_id INTEGER NOT NULL,
  position INTEGER NOT NULL,
  value INTEGER NOT NULL,            -- the raw register or stack value, as a signed 64-bit integer
  PRIMARY KEY (call_id, position)
) WITHOUT ROWID;

-- What an argument pointed to: a string (text) or bytes (data), read at entry or at return;
-- position -1 is what the return value points to.
CREATE TABLE api_memory (
  call_id INTEGER NOT NULL,
  position INTEGER NOT NULL,
  at_return INTEGER NOT NULL,
  text TEXT,                         -- a string, decoded; NULL for bytes
  data BLOB NOT NULL,                -- the bytes as read (at most 256)
  truncated INTEGER NOT NULL,        -- 1: longer than what was read
  unreadable INTEGER NOT NULL,       -- 1: the address could not be read
  PRIMARY KEY (call_id, position, at_return)
) WITHOUT ROWID;

CREATE TABLE syscall_memory (
  syscall_id INTEGER NOT NULL,
  position INTEGER NOT NULL,
  at_return INTEGER NOT NULL,
  text TEXT,
  data BLOB NOT NULL,
  truncated INTEGER NOT NULL,
  unreadable INTEGER NOT NULL,
  PRIMARY KEY (syscall_id, position, at_return)
) WITHOUT ROWID;
