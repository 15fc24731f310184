-- Schema version 3 (capture format 3). Call records carry the stack pointer at the call, and a
-- frame left open between two ingests keeps it, so a later call can close frames a longjmp, an
-- exception or a signal handler's return left behind. Syscalls carry when they were made, so
-- threads' syscalls interleave in time order as strace shows them. NULL: not known (an older
-- capture).
ALTER TABLE open_frames ADD COLUMN sp INTEGER;
ALTER TABLE syscalls ADD COLUMN time_ns INTEGER;
