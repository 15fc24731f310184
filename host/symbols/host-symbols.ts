import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { xz } from '@napi-rs/lzma';
import { ElfFile, type FunctionSymbol } from './elf-file.js';

/**
 * Names a debugger would find for a module beyond what the target reported: its PLT stubs, a
 * separate debug file (by build id under /usr/lib/debug/.build-id, or by .gnu_debuglink), and
 * the MiniDebugInfo in .gnu_debugdata. Read from this machine's files, and only from a file
 * whose build id is the module's: a trace ingested elsewhere, or a library updated since the
 * recording, is never named from the wrong file.
 */

/** Where separate debug files are installed: gdb's debug-file-directory, colon-separated. */
const debugRoots = () => (process.env.STALK_TRACE_DEBUG_DIRS ?? '/usr/lib/debug').split(':').filter(Boolean);

function readElf(path: string): ElfFile | null {
  try {
    return existsSync(path) ? ElfFile.parse(readFileSync(path)) : null;
  } catch {
    return null;
  }
}

/** The separate debug file for `file` at `path`, where one with the same build id is installed. */
function debugFile(path: string, file: ElfFile, buildId: string): ElfFile | null {
  const roots = debugRoots();
  const candidates = roots.map((root) => join(root, '.build-id', buildId.slice(0, 2), `${buildId.slice(2)}.debug`));
  const link = file.debugLink;
  if (link !== null) candidates.push(...roots.map((root) => join(root, dirname(path), link)), join(dirname(path), '.debug', link), join(dirname(path), link));
  for (const candidate of candidates) {
    const debug = candidate === path ? null : readElf(candidate);
    if (debug !== null && debug.buildId === buildId) return debug;
  }
  return null;
}

/** The symbol table that .gnu_debugdata compresses, or nothing where it is absent or damaged. */
function miniDebugInfo(file: ElfFile): FunctionSymbol[] {
  const packed = file.miniDebugInfo;
  if (packed === null) return [];
  try {
    return ElfFile.parse(xz.decompressSync(packed))?.functions() ?? [];
  } catch {
    return [];
  }
}

const cache = new Map<string, FunctionSymbol[]>();

/** The extra function symbols of the module loaded from `path` with this build id; [] where none can be trusted. */
export function hostSymbols(path: string, buildId: string | null | undefined): FunctionSymbol[] {
  if (!buildId) return [];
  const key = `${path}\0${buildId}`;
  let found = cache.get(key);
  if (found !== undefined) return found;
  const file = readElf(path);
  found = [];
  if (file !== null && file.buildId === buildId) {
    found.push(...file.pltStubs(), ...miniDebugInfo(file));
    const debug = debugFile(path, file, buildId);
    if (debug !== null) found.push(...debug.functions());
  }
  cache.set(key, found);
  return found;
}

/** `write@plt` -> `write`; null for a name that is not a PLT stub's. */
export const pltTarget = (name: string): string | null => (name.endsWith('@plt') ? name.slice(0, -4) : null);

