-- Views every query session has. They are TEMP (made per connection), so reading a trace writes
-- nothing to it. events, call_events and syscall_names are provided by the session too:
--   events(thread_id, seq, kind, depth, location_id, target_id, size, syscall_id, stall_ns, api_call_id)
--     every event, decoded from event_chunks (host/store/event-tables.c); filters on thread_id
--     (or events(N)), seq, kind and location_id read only the chunks that can match
--   call_events(thread_id, seq, depth, site_id, callee_id)
--     every call, from call_lists; `WHERE for_callee = ID` reads one callee's calls only
--   syscall_names(nr, name) for the trace's architecture
--   reg_writes(seq, reg, value, thread_id HIDDEN)
--     registers instructions wrote, by name: value after the instruction (INTEGER, or BLOB for
--     vector registers), NULL where not recorded. `WHERE reg = 'rax' ORDER BY seq` is one
--     register's history (its count reads no chunk); `WHERE value = X` reads only the chunks
--     whose value filter may hold X
--   mem_accesses(seq, access, address, size, value, syscall_id, thread_id HIDDEN)
--     memory an instruction read ('r', the value before it) or wrote ('w', after it): up to 8
--     bytes, the integer loaded or stored (little-endian, as a register holds it), wider ones
--     their bytes in memory order; value NULL where not recorded. Rows with syscall_id are the
--     bytes the kernel wrote into an output buffer during that syscall, as its return captured
--     it; their seq is the thread's next instruction (NULL until it is stored). Filters on
--     address (= or a range) read only the chunks that touch those pages
--   insn_rows(seq, thread_id, address, location_id, size, run_seq), what insns names
--     these three from insn_chunks (host/store/insn-tables.c): rows come in seq order, and
--     filters on seq, thread_id, reg, value, address and access read only the chunks that can match

-- Every event with its addresses named.
CREATE TEMP VIEW resolved_events AS
SELECT e.thread_id, e.seq, e.kind, e.depth, l.name AS location, l.address, t.name AS target, t.address AS target_address,
       e.size, e.syscall_id, e.stall_ns, e.api_call_id
FROM events e
JOIN locations l ON l.id = e.location_id
LEFT JOIN locations t ON t.id = e.target_id;

-- Every call: where from (the call instruction) and to, as module!symbol+0xoff.
-- `WHERE callee = 'module!name'` reads only that function's calls.
CREATE TEMP VIEW calls AS
SELECT c.thread_id, c.seq, c.depth, s.name AS caller, f.name AS callee, s.address AS call_site, f.address AS callee_address
FROM locations f
JOIN call_events c ON c.for_callee = f.id
JOIN locations s ON s.id = c.site_id;

-- Caller function -> callee function, per thread, with counts and the callee's cost.
CREATE TEMP VIEW call_graph AS
SELECT e.thread_id, coalesce(a.name, '(thread root)') AS caller, b.name AS callee, e.calls, e.total_cost
FROM call_edges e
LEFT JOIN locations a ON a.id = e.caller_id
JOIN locations b ON b.id = e.callee_id;

-- Per function, all threads: calls and costs in trace.cost_unit (frames still open at a cut-short end are not counted).
CREATE TEMP VIEW functions AS
SELECT l.name AS function, m.name AS module, l.address, sum(f.calls) AS calls, sum(f.self_cost) AS self_cost,
       sum(f.total_cost) AS total_cost
FROM function_stats f
JOIN locations l ON l.id = f.function_id
LEFT JOIN modules m ON m.id = l.module_id
GROUP BY f.function_id;

-- Blocks with where they are and how often they ran; code holds the bytes as compiled.
CREATE TEMP VIEW block_symbols AS
SELECT b.id, l.name, m.name AS module, l.offset, b.start, b.end, b.end - b.start AS size, b.executions, b.code
FROM blocks b
JOIN locations l ON l.id = b.location_id
LEFT JOIN modules m ON m.id = l.module_id;

-- Syscalls with their names; ret is NULL for one that never returned.
CREATE TEMP VIEW syscall_log AS
SELECT s.thread_id, s.seq, coalesce(n.name, 'syscall_' || s.nr) AS name, s.nr, s.arg0, s.arg1, s.arg2, s.arg3, s.arg4, s.arg5,
       s.ret, l.name AS location
FROM syscalls s
LEFT JOIN syscall_names n ON n.nr = s.nr
JOIN locations l ON l.id = s.location_id;

-- Strings and buffers syscall arguments pointed to, read at entry or (results) at return.
CREATE TEMP VIEW syscall_strings AS
SELECT s.thread_id, s.seq, coalesce(n.name, 'syscall_' || s.nr) AS name, m.position, m.at_return, m.text, m.data, m.truncated,
       m.unreadable
FROM syscall_memory m
JOIN syscalls s ON s.id = m.syscall_id
LEFT JOIN syscall_names n ON n.nr = s.nr;

-- Library calls (record --apis): which function, where it returns to, and its result; ret is
-- NULL where no return was seen.
CREATE TEMP VIEW api_log AS
SELECT c.id, c.thread_id, c.seq, f.module || '!' || f.name AS function, f.module, f.name, r.name AS returns_to, c.argc, c.ret,
       c.untracked
FROM api_calls c
JOIN api_functions f ON f.id = c.function_id
JOIN locations r ON r.id = c.return_id;

-- Library call arguments, with the string each pointed to at entry and at return.
CREATE TEMP VIEW api_arguments AS
SELECT a.call_id, c.thread_id, c.seq, f.module || '!' || f.name AS function, a.position, a.value, e.text, x.text AS text_at_return
FROM api_args a
JOIN api_calls c ON c.id = a.call_id
JOIN api_functions f ON f.id = c.function_id
LEFT JOIN api_memory e ON e.call_id = a.call_id AND e.position = a.position AND e.at_return = 0
LEFT JOIN api_memory x ON x.call_id = a.call_id AND x.position = a.position AND x.at_return = 1;

-- Instructions (--events insn), one row each: seq numbers them across the trace; run_seq is
-- the seq of its run's first instruction.
CREATE TEMP VIEW insns AS
SELECT r.seq, r.thread_id, r.address, l.name AS location, r.size, r.run_seq
FROM insn_rows r
CROSS JOIN locations l ON l.id = r.location_id;

-- Every register of an insnsync, before the instruction seq runs.
CREATE TEMP VIEW insn_syncs AS
SELECT s.seq, s.thread_id, s.reason, g.name AS reg, v.value
FROM insn_syncs_at s
JOIN insn_sync_values v ON v.seq = s.seq AND v.thread_id = s.thread_id
JOIN insn_registers g ON g.id = v.reg;
