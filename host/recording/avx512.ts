import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Frida's Stalker keeps a followed thread's AVX-512 state (zmm16-31, the upper halves of
 * zmm0-15, k0-k7) across its own code only from 17.16.0 on (frida-gum's "x86: Preserve AVX-512
 * state in Stalker"). With an older Frida on a CPU with AVX-512, the code Stalker runs between a
 * program's instructions (its block compiler, our callouts, what they call in libc) overwrites
 * them. glibc chooses its EVEX string functions on such CPUs, which keep data in ymm16-31: a
 * followed program then computes wrong results (seen here with Frida 17.6.2, printf printing its
 * format instead of its numbers under --events insn).
 */
const FIXED_IN = [17, 16, 0];

/** glibc's own switch for the functions it chooses at start-up: these then leave those registers alone. */
const HWCAPS = 'glibc.cpu.hwcaps';
const NO_AVX512 = ['-AVX512F', '-AVX512VL', '-AVX512BW'];

/** Whether Frida `version` loses a thread's AVX-512 state on a CPU with these /proc/cpuinfo flags. */
export function losesAvx512(version: string, cpuFlags: readonly string[]): boolean {
  if (!cpuFlags.includes('avx512f')) return false;
  const parts = version.split('.').map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < FIXED_IN.length; i++) {
    const part = Number.isFinite(parts[i]) ? parts[i] : 0;
    if (part !== FIXED_IN[i]) return part < FIXED_IN[i];
  }
  return false;
}

/** GLIBC_TUNABLES as given, with glibc's AVX-512 functions turned off (added to any hwcaps the user set, once). */
export function withoutAvx512(tunables: string | undefined): string {
  const list = tunables === undefined || tunables === '' ? [] : tunables.split(':');
  const at = list.findIndex((t) => t.startsWith(`${HWCAPS}=`));
  if (at < 0) return [...list, `${HWCAPS}=${NO_AVX512.join(',')}`].join(':');
  const given = list[at].slice(HWCAPS.length + 1).split(',');
  list[at] = [list[at], ...NO_AVX512.filter((c) => !given.includes(c))].join(',');
  return list.join(':');
}

/** The flags of this machine's first CPU in /proc/cpuinfo (none where there is no such file). */
function localCpuFlags(): string[] {
  try {
    return /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1].trim().split(/\s+/) ?? [];
  } catch {
    return [];
  }
}

/** The version of the local device's Frida where it loses this CPU's AVX-512 state, or null. */
export function localFridaLosingAvx512(): string | null {
  const version = localFridaVersion();
  return version !== null && losesAvx512(version, localCpuFlags()) ? version : null;
}

/** The version of the frida package this process loads (what the local device runs), or null. */
function localFridaVersion(): string | null {
  try {
    // Its package.json is not among its exports: found beside its entry point.
    for (let dir = dirname(createRequire(import.meta.url).resolve('frida')); dir !== dirname(dir); dir = dirname(dir)) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'frida') return pkg.version ?? null;
      } catch {
        // Not here: one folder up.
      }
    }
  } catch {
    // Not installed.
  }
  return null;
}
