-- Threads with their events, losses and time stalled waiting for the ring to drain.
SELECT id AS tid, name, events, lost + missing AS lost, stall_ns / 1e6 AS stalled_ms, ended FROM threads ORDER BY events DESC;
