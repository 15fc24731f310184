import type { Statement } from 'better-sqlite3';
import type { MemoryRead } from '../model/memory-read.js';
import { nextId, type TraceDb } from './database.js';
import { MemoryReadWriter } from './memory-read-writer.js';

/** A library function stored by an earlier ingest. */
export interface ApiFunctionRow {
  id: number;
  locationId: number;
  name: string;
}

/** A library call stored without its return yet, with the addresses that pair it with one. */
export interface OpenApiCallRow {
  id: number;
  threadId: number;
  functionId: number;
  functionAddress: number;
  returnAddress: number;
}

/** --apis: library functions, their calls, arguments and memory reads, and the prototypes that decode them. */
export class ApiWriter {
  private readonly insertPrototype: Statement;
  private readonly insertFunction: Statement;
  private readonly insertCall: Statement;
  private readonly insertArg: Statement;
  private readonly returned: Statement;
  private readonly memory: MemoryReadWriter;
  private nextCallId: number;
  private nextFunctionId: number;

  constructor(private readonly db: TraceDb) {
    this.insertPrototype = db.prepare('INSERT OR REPLACE INTO api_prototypes (name, ret_type, arg_types) VALUES (?, ?, ?)');
    this.insertFunction = db.prepare('INSERT INTO api_functions (id, location_id, module, name) VALUES (?, ?, ?, ?)');
    this.insertCall = db.prepare(`INSERT INTO api_calls (id, thread_id, seq, function_id, return_id, argc, untracked)
      VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.insertArg = db.prepare('INSERT INTO api_args (call_id, position, value) VALUES (?, ?, ?)');
    this.returned = db.prepare('UPDATE api_calls SET ret = ?, ret_seq = ? WHERE id = ?');
    this.memory = new MemoryReadWriter(db, 'api_memory', 'call_id');
    this.nextCallId = nextId(db, 'api_calls');
    this.nextFunctionId = nextId(db, 'api_functions');
  }

  functions(): ApiFunctionRow[] {
    return this.db.prepare('SELECT id, location_id AS locationId, name FROM api_functions').all() as ApiFunctionRow[];
  }

  /** Tracked calls an earlier ingest stored whose return it did not see, in the order they were made. */
  open(): OpenApiCallRow[] {
    return this.db.prepare(`SELECT c.id, c.thread_id AS threadId, c.function_id AS functionId, fl.address AS functionAddress,
        r.address AS returnAddress FROM api_calls c
        JOIN api_functions f ON f.id = c.function_id JOIN locations fl ON fl.id = f.location_id JOIN locations r ON r.id = c.return_id
        WHERE c.ret_seq IS NULL AND c.untracked = 0 ORDER BY c.seq`).all() as OpenApiCallRow[];
  }

  /** A prototype of the recording, as its apis frame gave it. */
  prototype(name: string, ret: string, args: string[]): void {
    this.insertPrototype.run(name, ret, JSON.stringify(args));
  }

  /** Stores a library function; returns its id. */
  function(locationId: number, module: string, name: string): number {
    const id = this.nextFunctionId++;
    this.insertFunction.run(id, locationId, module, name);
    return id;
  }

  /** Stores a call with its argument values and what it read at entry; returns its id. */
  call(threadId: number, seq: number, functionId: number, returnId: number, untracked: boolean, args: bigint[], memory: MemoryRead[]): number {
    const id = this.nextCallId++;
    this.insertCall.run(id, threadId, seq, functionId, returnId, args.length, untracked ? 1 : 0);
    args.forEach((value, position) => this.insertArg.run(id, position, value));
    this.memory.write(id, false, memory);
    return id;
  }

  ret(id: number, seq: number, value: bigint, memory: MemoryRead[]): void {
    this.returned.run(value, seq, id);
    this.memory.write(id, true, memory);
  }
}
