import { UserError } from '../base/errors.js';
import type { FuncSpec } from '../schema/protocol.generated.js';

const OFFSET = /^0x[0-9a-f]+$/i;
const NAME = /^[^\s!]+$/;

/** --func SPEC: 0x1234 (offset in the main module; the agent refuses it in an Android app), lib.so!0x1234, lib.so!name, or name. */
export function parseFuncSpec(text: string): FuncSpec {
  const bad = () => new UserError(`bad --func spec "${text}": expected 0xOFFSET, MODULE!0xOFFSET, MODULE!NAME or NAME`);
  const parts = text.split('!');
  if (parts.length > 2 || parts.some((p) => p === '')) throw bad();
  const [module, what] = parts.length === 2 ? parts : [null, parts[0]];
  if (module !== null && !NAME.test(module)) throw bad();
  if (/^0x/i.test(what)) {
    if (!OFFSET.test(what)) throw bad();
    const offset = Number.parseInt(what, 16);
    if (!Number.isSafeInteger(offset)) throw bad();
    return { module, symbol: null, offset };
  }
  if (!NAME.test(what)) throw bad();
  return { module, symbol: what, offset: null };
}
