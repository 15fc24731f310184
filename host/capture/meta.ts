import { EventMask, META_FIELDS, type EventName, type MetaMessage, type TraceMessage } from '../schema/layout.generated.js';
import type { AgentOptions } from '../schema/protocol.generated.js';

type FieldRule = { type: string; enum?: readonly string[]; optional?: boolean };

const ADDRESS = /^0x[0-9a-f]{1,16}$/i;

function checkField(name: string, rule: FieldRule, value: unknown): string | undefined {
  if (value === undefined || value === null) return rule.optional ? undefined : `missing ${name}`;
  const ok = {
    string: () => typeof value === 'string' && (!rule.enum || rule.enum.includes(value)),
    integer: () => Number.isSafeInteger(value),
    boolean: () => typeof value === 'boolean',
    address: () => typeof value === 'string' && ADDRESS.test(value),
    object: () => typeof value === 'object' && !Array.isArray(value),
    array: () => Array.isArray(value),
  }[rule.type];
  return ok?.() ? undefined : `${name} is not a valid ${rule.enum ? rule.enum.join('|') : rule.type}`;
}

/** Parses a meta frame's payload; a string says what is wrong with it. */
export function parseMeta(payload: Uint8Array): MetaMessage | string {
  let message: Record<string, unknown>;
  try {
    message = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch {
    return 'meta frame is not JSON';
  }
  if (typeof message !== 'object' || message === null) return 'meta frame is not a JSON object';
  const rules = META_FIELDS[message.type as keyof typeof META_FIELDS] as Record<string, FieldRule> | undefined;
  if (!rules) return `unknown meta message type ${JSON.stringify(message.type)}`;
  for (const [name, rule] of Object.entries(rules)) {
    const problem = checkField(name, rule, message[name]);
    if (problem) return `${message.type} message: ${problem}`;
  }
  return message as unknown as MetaMessage;
}

/**
 * The kinds a trace frame says were recorded. Its options are the recorder's AgentOptions, which
 * capture.json leaves untyped: a capture that does not list them says nothing was asked for.
 */
export function recordedEvents(m: TraceMessage): AgentOptions['events'] {
  const events: unknown = m.options.events;
  return Array.isArray(events) ? events.filter((e): e is EventName => typeof e === 'string' && e in EventMask) : [];
}

export const parseAddress = (hex: string): number => Number.parseInt(hex, 16);
