-- Schema version 3: call records carry the stack pointer at the call (capture format 3), and a
-- frame left open between two ingests keeps it, so a later call can close frames a longjmp, an
-- exception or a signal handler's return left behind. NULL: not known (an older capture).
ALTER TABLE open_frames ADD COLUMN sp INTEGER;
