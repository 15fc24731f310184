import { UserError } from '../base/errors.js';

export type Frida = typeof import('frida');

export const FRIDA_MISSING =
  'the native Frida binding is not installed: run `npm install frida` on a machine that can fetch its prebuilt binding ' +
  '(or build frida-node from source), then run this command again';

/** Loads the optional `frida` package; where it is missing, says how to get it (exit 2). */
export async function loadFrida(): Promise<Frida> {
  try {
    return await import('frida');
  } catch {
    throw new UserError(FRIDA_MISSING, 2);
  }
}
