-- Schema version 5. Instruction-level tracing (--events insn). Instructions are not events: a
-- run of them is stored once (insn_layouts, insn_layout_insns) and each execution as one
-- insn_runs row, the values it carried as reg_writes and mem_accesses rows. seq numbers every
-- recorded instruction of the trace, increasing in ingest order (a thread's keep their order).
-- The insns, reg_writes and insn_syncs views (views.sql) name what these tables hold by id.

-- Ring sequence number a thread's next record has: its event chunks alone no longer say it,
-- since insn records are not stored among them. NULL in traces ingested before version 5.
ALTER TABLE threads ADD COLUMN next_seq INTEGER;
-- Instructions recorded, and values their records did not carry (unrecorded entries times executions).
ALTER TABLE threads ADD COLUMN insns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE threads ADD COLUMN unrecorded_regs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE threads ADD COLUMN unrecorded_mem INTEGER NOT NULL DEFAULT 0;
-- Global instruction sequence number when the chunk's first event came: the thread's
-- instructions before it have lower numbers, those after its last event this one or higher
-- (a chunk holds no instruction records between its events). NULL before version 5.
ALTER TABLE event_chunks ADD COLUMN insn_seq INTEGER;

-- The trace arch's registers, by the ids insn records use (schemas/records.json insnRegisters).
CREATE TABLE insn_registers (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL              -- bytes
);

-- A run of instructions, as its insnlayout record described it.
CREATE TABLE insn_layouts (
  id INTEGER PRIMARY KEY,            -- the layout id the recording gave it
  address INTEGER NOT NULL,          -- its first instruction
  insn_count INTEGER NOT NULL,
  layout BLOB NOT NULL               -- the insnlayout payload as recorded, so a resumed ingest reads its runs again
);

-- Each instruction of a run, named once.
CREATE TABLE insn_layout_insns (
  layout_id INTEGER NOT NULL,
  insn INTEGER NOT NULL,             -- index in the run
  address INTEGER NOT NULL,
  size INTEGER NOT NULL,
  location_id INTEGER NOT NULL REFERENCES locations(id),
  PRIMARY KEY (layout_id, insn)
) WITHOUT ROWID;

-- One execution of a run: its instructions are seq, seq + 1, ... seq + insn_count - 1.
CREATE TABLE insn_runs (
  seq INTEGER PRIMARY KEY,
  thread_id INTEGER NOT NULL,
  layout_id INTEGER NOT NULL
);

-- A register an instruction wrote: its value after it (INTEGER up to 8 bytes, vector registers
-- as a BLOB in memory order), NULL where the record did not carry it. Keyed by register first,
-- the table is its own index of one register's history; an instruction's writes are found
-- through its run's layout, which names the registers.
CREATE TABLE insn_reg_writes (
  reg INTEGER NOT NULL,              -- insn_registers.id
  seq INTEGER NOT NULL,
  value INTEGER,                     -- INTEGER affinity: whole numbers bound as JavaScript numbers are stored as integers
  PRIMARY KEY (reg, seq)
) WITHOUT ROWID;

-- Memory an instruction read ('r', the value before it) or wrote ('w', after it), in memory
-- order; value NULL where not recorded. Rows with syscall_id are what the kernel wrote into an
-- output buffer during that syscall, as its return captured it; their seq is the thread's next
-- instruction (NULL until it is stored).
CREATE TABLE mem_accesses (
  seq INTEGER,
  access TEXT NOT NULL CHECK (access IN ('r', 'w')),
  address INTEGER NOT NULL,
  size INTEGER NOT NULL,
  value BLOB,
  syscall_id INTEGER REFERENCES syscalls(id)
);

-- Every register of the arch's sync list at one instruction (seq: the one about to run).
CREATE TABLE insn_syncs_at (
  seq INTEGER NOT NULL,
  thread_id INTEGER NOT NULL,
  reason TEXT NOT NULL,              -- start, funcEnter (schemas/records.json insnSync.reasons)
  PRIMARY KEY (seq, thread_id)
) WITHOUT ROWID;

CREATE TABLE insn_sync_values (
  seq INTEGER NOT NULL,
  thread_id INTEGER NOT NULL,
  reg INTEGER NOT NULL,              -- insn_registers.id
  value INTEGER NOT NULL,
  PRIMARY KEY (seq, thread_id, reg)
) WITHOUT ROWID;
