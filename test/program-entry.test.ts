// Finding `main` from the ELF entry point, in real programs: stripped ones built here, and the
// distribution's own, decoded by Capstone as the agent's Frida decodes them in the target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Capstone, Const, loadCapstone } from 'capstone-wasm';
import { findMain, type CodeReader } from '../agent/program-entry.js';
import { tempDir } from './helpers.js';

await loadCapstone();
const x64 = new Capstone(Const.CS_ARCH_X86, Const.CS_MODE_64);

interface Segment { vaddr: bigint; offset: bigint; filesz: bigint; executable: boolean }

/** An ELF file's entry point and loadable segments, read from its headers. */
function elf(path: string): { file: Buffer; entry: bigint; segments: Segment[] } {
  const file = readFileSync(path);
  assert.equal(file.readUInt32BE(0), 0x7f454c46, `${path} is an ELF file`);
  const phoff = Number(file.readBigUInt64LE(0x20));
  const segments: Segment[] = [];
  for (let i = 0; i < file.readUInt16LE(0x38); i++) {
    const ph = phoff + i * file.readUInt16LE(0x36);
    if (file.readUInt32LE(ph) !== 1) continue; // PT_LOAD
    segments.push({ vaddr: file.readBigUInt64LE(ph + 16), offset: file.readBigUInt64LE(ph + 8), filesz: file.readBigUInt64LE(ph + 32), executable: (file.readUInt32LE(ph + 4) & 1) !== 0 });
  }
  return { file, entry: file.readBigUInt64LE(0x18), segments };
}

/** The program as its file lays it out (no relocation applied), at its link-time addresses. */
function fileReader(path: string): { reader: CodeReader; entry: bigint } {
  const { file, entry, segments } = elf(path);
  const at = (address: bigint) => segments.find((s) => address >= s.vaddr && address < s.vaddr + s.filesz);
  const offset = (address: bigint) => Number(address - at(address)!.vaddr + at(address)!.offset);
  return {
    entry,
    reader: {
      arch: 'x64',
      decode(address) {
        if (at(address) === undefined) return null;
        const [insn] = x64.disasm(file.subarray(offset(address), offset(address) + 16), { address, count: 1 });
        return insn === undefined ? null : { address: BigInt(insn.address), size: insn.size, mnemonic: insn.mnemonic, opStr: insn.opStr };
      },
      readPointer: (address) => (at(address) === undefined ? null : file.readBigUInt64LE(offset(address))),
      isProgramCode: (address) => at(address)?.executable ?? false,
    },
  };
}

const symbol = (path: string, name: string) => {
  const line = spawnSync('nm', [path], { encoding: 'utf8' }).stdout.split('\n').find((l) => l.endsWith(` T ${name}`));
  return line === undefined ? null : BigInt(`0x${line.split(' ')[0]}`);
};

const dir = tempDir();
const noGcc = spawnSync('gcc', ['--version']).status === 0 ? false : 'gcc is not installed';

test('a stripped program\'s main is found from its entry point, PIE or not, C or C++', { skip: noGcc }, () => {
  writeFileSync(join(dir, 'prog.c'), 'int helper(int x) { return x * 3; }\nint main(int argc, char **argv) { return helper(argc) > 100; }\n');
  writeFileSync(join(dir, 'prog.cc'), '#include <stdexcept>\nint main() { try { throw std::runtime_error("x"); } catch (...) { return 0; } }\n');
  for (const [source, compiler, flags] of [['prog.c', 'gcc', []], ['prog.c', 'gcc', ['-no-pie']], ['prog.cc', 'g++', ['-O2']]] as [string, string, string[]][]) {
    const exe = join(dir, `${source}-${flags.join('')}`);
    const built = spawnSync(compiler, [...flags, '-o', exe, join(dir, source)], { encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    const expected = symbol(exe, 'main');
    assert.notEqual(expected, null);
    assert.equal(spawnSync('strip', [exe]).status, 0);
    assert.equal(symbol(exe, 'main'), null, 'stripped: no main symbol left');
    const { reader, entry } = fileReader(exe);
    assert.equal(findMain(reader, entry), expected, `${compiler} ${flags.join(' ')}`);
  }
});

test('the distribution\'s own stripped programs hand a main in their code to the C library', () => {
  for (const path of ['/bin/ls', '/usr/bin/sort', '/usr/bin/python3']) {
    const { reader, entry } = fileReader(path);
    const main = findMain(reader, entry);
    assert.notEqual(main, null, path);
    assert.ok(reader.isProgramCode(main!) && main !== entry, `${path}: main at 0x${main!.toString(16)} lies in its code`);
    // It begins a function: it decodes, and is not the entry point's own code.
    assert.notEqual(reader.decode(main!), null);
  }
});

test('code that does not follow the C library\'s pattern gives no main rather than a wrong one', { skip: noGcc }, () => {
  // An entry point that loads nothing into the argument registers and exits by itself.
  writeFileSync(join(dir, 'bare.c'), 'void _start(void) { __asm__ volatile ("mov $60, %eax\\n xor %edi, %edi\\n syscall"); }\n');
  const exe = join(dir, 'bare');
  const built = spawnSync('gcc', ['-nostdlib', '-static', '-o', exe, join(dir, 'bare.c')], { encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  const { reader, entry } = fileReader(exe);
  assert.equal(findMain(reader, entry), null);
});
