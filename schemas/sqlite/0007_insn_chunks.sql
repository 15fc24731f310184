-- Schema version 7. Instructions are stored in chunks: a thread's consecutive runs, up to
-- records.json insnChunk.maxInsns instructions, as column blobs (records.json insnChunk), with small tables that say which chunks can hold what a query asks for. They
-- replace insn_runs, insn_reg_writes and the instructions' rows of mem_accesses (about 40 bytes
-- an instruction stored as rows and indexes); upgrading a trace moves their rows into chunks
-- (host/store/insn-chunk-upgrade.ts). The reg_writes, mem_accesses and insn_rows virtual tables
-- (host/store/insn-tables.c) read them, and the insns view names insn_rows' locations.

CREATE TABLE insn_chunks (
  id INTEGER PRIMARY KEY,
  thread_id INTEGER NOT NULL,
  first_seq INTEGER NOT NULL,        -- its first instruction
  last_seq INTEGER NOT NULL,         -- its last instruction (other threads' instructions may lie between)
  insns INTEGER NOT NULL,
  codec INTEGER NOT NULL,            -- records.json storedCodecs, for runs, mems and insn_chunk_reg_writes.data
  runs BLOB NOT NULL,
  mems BLOB NOT NULL,
  -- A Bloom filter of the register values written (host/store/insn-value-filter.ts): a query for
  -- one value reads only the chunks it may be in. Last, so that reading the columns before it
  -- does not read through it.
  value_filter BLOB NOT NULL
);
CREATE INDEX insn_chunks_first ON insn_chunks (first_seq, last_seq, thread_id);
CREATE INDEX insn_chunks_last ON insn_chunks (last_seq, first_seq, thread_id);

-- A chunk's two large columns, each in its own table: SQLite reads a row's blobs through their
-- pages in column order, so a query of memory accesses would otherwise read the register values
-- too. mem_values is never compressed: a query reads only the values of the rows it returns.
CREATE TABLE insn_chunk_reg_writes (
  chunk_id INTEGER PRIMARY KEY,      -- insn_chunks.id
  regs BLOB NOT NULL
);
CREATE TABLE insn_chunk_mem_values (
  chunk_id INTEGER PRIMARY KEY,      -- insn_chunks.id
  mem_values BLOB NOT NULL
);

-- How many times each register is written in each chunk: one register's history reads only the
-- chunks that write it, and its count reads no chunk at all.
CREATE TABLE insn_chunk_regs (
  reg INTEGER NOT NULL,              -- insn_registers.id
  chunk_id INTEGER NOT NULL,         -- insn_chunks.id
  writes INTEGER NOT NULL,
  PRIMARY KEY (reg, chunk_id)
) WITHOUT ROWID;

-- Which chunks access memory starting in which page (address >> records.json insnChunk.pageShift,
-- arithmetic, so pages order as SQLite orders addresses): 1 read, 2 written, 3 both.
CREATE TABLE insn_chunk_pages (
  page INTEGER NOT NULL,
  chunk_id INTEGER NOT NULL,
  access INTEGER NOT NULL,
  PRIMARY KEY (page, chunk_id)
) WITHOUT ROWID;

-- What the kernel wrote into a syscall's output buffer, as its return captured it: a write by the
-- thread's next instruction (seq NULL until it is stored). mem_accesses shows them with the
-- instructions' own accesses.
CREATE TABLE insn_kernel_writes (
  id INTEGER PRIMARY KEY,
  seq INTEGER,
  address INTEGER NOT NULL,
  size INTEGER NOT NULL,
  value BLOB NOT NULL,
  syscall_id INTEGER NOT NULL REFERENCES syscalls(id)
);
CREATE INDEX insn_kernel_writes_seq ON insn_kernel_writes (seq);
