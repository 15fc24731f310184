import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressTable } from '../host/base/address-table.js';

test('the address table finds every 48-bit address it was given, through growth and collisions, and forgets them on clear', () => {
  const table = new AddressTable(2);
  // Addresses 4 GiB apart share their low word; page-aligned ones share their low bits.
  const addresses = Array.from({ length: 5000 }, (_, i) => 0x7f0000000000 + (i % 50) * 0x100000000 + Math.floor(i / 50) * 0x1000);
  addresses.forEach((a, i) => table.set(a, i + 1));
  addresses.forEach((a, i) => assert.equal(table.get(a), i + 1, `0x${a.toString(16)}`));
  assert.equal(table.get(0x7f0000000008), -1);
  assert.equal(table.get(0), -1);
  table.set(addresses[7], 0xffffffff);
  assert.equal(table.get(addresses[7]), 0xffffffff);
  table.set(0, 3);
  assert.equal(table.get(0), 3);
  table.clear();
  assert.equal(table.get(addresses[0]), -1);
  table.set(addresses[1], 9);
  assert.equal(table.get(addresses[1]), 9);
});
