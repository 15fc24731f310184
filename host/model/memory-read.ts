/**
 * Memory an argument pointed to, as the target read it: decoded from a record's memory reads by
 * the ingest, kept by the store in syscall_memory and api_memory.
 */
export interface MemoryRead {
  /** Argument index; -1: what the return value points to. */
  arg: number;
  /** A string, decoded (UTF-8, or UTF-32 for wide strings); null for bytes. */
  text: string | null;
  data: Buffer;
  truncated: boolean;
  unreadable: boolean;
}
