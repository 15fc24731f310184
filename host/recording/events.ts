import { UserError } from '../base/errors.js';
import type { EventName } from '../schema/layout.generated.js';

/**
 * The complete list of record kinds the agent is asked for, decided here once: blocks and
 * instructions bring their code (compile), and --apis brings its calls (api), which mean
 * nothing without it.
 */
export function eventsToRecord(requested: readonly EventName[], apis: boolean, insnFlags = false): EventName[] {
  if (!apis && requested.includes('api')) throw new UserError('--events api needs --apis, which says which library calls to record');
  if (requested.includes('insn') && requested.includes('exec')) {
    throw new UserError('--events insn records every instruction already; leave exec out');
  }
  if (insnFlags && !requested.includes('insn')) throw new UserError('--insn-flags needs --events insn');
  const events = [...requested];
  if (apis && !events.includes('api')) events.push('api');
  if ((events.includes('block') || events.includes('insn')) && !events.includes('compile')) events.push('compile');
  return events;
}
