/**
 * The one JSON convention of every --json output and the jsonl export: field names as the SQL
 * views name them (snake_case, `thread_id`), integers (addresses too) as JSON numbers with
 * every digit kept, even past 2^53, and bytes as hex strings.
 */

const BIG = '\u0002bigint:';
const BIG_VALUE = new RegExp(`"${BIG.replace('\u0002', '\\\\u0002')}(-?\\d+)"`, 'g');

const encode = (_key: string, value: unknown): unknown => {
  if (typeof value === 'bigint') {
    return value >= Number.MIN_SAFE_INTEGER && value <= Number.MAX_SAFE_INTEGER ? Number(value) : `${BIG}${value}`;
  }
  if (value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString('hex');
  }
  return value;
};

/** One value as JSON text; `indent` for a whole document, none for one line of JSON lines. */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, encode, indent).replace(BIG_VALUE, '$1');
}
