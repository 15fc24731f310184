import { UserError } from '../base/errors.js';
import { ApiPrototype } from '../schema/layout.generated.js';
import type { ApiOptions } from '../schema/protocol.generated.js';
import { encodePrototype, loadPrototypes, type Prototype } from '../symbols/prototypes.js';

/** What `record --apis` was asked for: the agent's filters as given, and what decides the prototypes. */
export type ApiChoice = Omit<ApiOptions, 'prototypes' | 'unknown'> & {
  configFiles: string[];
  numUnknownArgs: number;
  numMaxArgs: number;
};

/** --num-max-args and --num-unknown-args: checked even without --apis, so a bad value is never ignored. */
export function argCount(flag: string, n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > ApiPrototype.maxArgs) throw new UserError(`${flag} takes a whole number from 0 to ${ApiPrototype.maxArgs}, not ${n}`);
  return n;
}

/** frida-trace's forms: `name*` (any module) or `module*!name*`. */
function functionGlob(flag: string, glob: string): string {
  const parts = glob.split('!');
  if (parts.length > 2 || parts.some((p) => p === '')) throw new UserError(`${flag} takes FUNCTION or MODULE!FUNCTION globs, not "${glob}"`);
  return parts.length === 1 ? `*!${glob}` : glob;
}

/**
 * Reads the prototype files and turns the flags into what the agent needs. Runs before any
 * device is contacted, so a bad file or flag is reported without Frida.
 */
export function resolveApiChoice(c: ApiChoice): { options: ApiOptions; prototypes: Prototype[] } {
  const maxArgs = argCount('--num-max-args', c.numMaxArgs);
  const unknownArgs = Math.min(argCount('--num-unknown-args', c.numUnknownArgs), maxArgs);
  const prototypes = loadPrototypes(c.configFiles);
  const encoded: Record<string, number[]> = {};
  for (const [name, p] of prototypes) encoded[name] = encodePrototype(Math.min(p.args.length, maxArgs), p);
  return {
    prototypes: [...prototypes.values()],
    options: {
      prototypes: encoded,
      unknown: encodePrototype(unknownArgs, null),
      include: c.include.map((g) => functionGlob('-i/--include', g)),
      exclude: c.exclude.map((g) => functionGlob('-x/--exclude', g)),
      onlyToLib: c.onlyToLib,
      ignoreUnderscore: c.ignoreUnderscore,
      onlyFromApp: c.onlyFromApp,
      appModule: c.appModule,
    },
  };
}
