// The page's pure parts, in Node without a browser: the piecewise SHA-256
// against Node's own, guest names, the quality mark's grades, sizes and
// durations in words, and the recent-calls list in a storage of its own.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Sha256 } from '../../web/sha256.js';
import { guestName } from '../../web/names.js';
import { connectionQuality } from '../../web/stats.js';
import { formatBytes } from '../../web/file-transfer.js';
import { clearRecentCalls, formatDuration, loadRecentCalls, RecentCall } from '../../web/recent-calls.js';

test('SHA-256 fed in pieces of any size equals the digest of the whole', () => {
  for (const size of [0, 1, 55, 56, 63, 64, 65, 119, 120, 4096, 100003]) {
    const data = randomBytes(size);
    const hash = new Sha256();
    for (let offset = 0; offset < size;) {
      const step = 1 + Math.floor(Math.random() * 200);
      hash.update(data.subarray(offset, offset + step));
      offset += step;
    }
    assert.equal(hash.hex(), createHash('sha256').update(data).digest('hex'), `${size} bytes`);
  }
  assert.equal(new Sha256().update(new TextEncoder().encode('abc')).hex(),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('guest names are stable per id and tell members apart', () => {
  assert.equal(guestName('c1f0b0e2-1'), guestName('c1f0b0e2-1'));
  assert.match(guestName('x'), /^[A-Z][a-z]+ [A-Z][a-z]+$/);
  const names = new Set(Array.from({ length: 10 }, (_, i) => guestName(`client-${i}`)));
  assert.ok(names.size >= 9, [...names].join(', '));
});

test('the quality mark grades loss, round trip and freezes', () => {
  const health = (fields) => ({ bitrateIn: 1e6, rttMs: 20, lossPercent: 0, freezes: 0, ...fields });
  assert.equal(connectionQuality(null), 'unknown');
  assert.equal(connectionQuality(health({ bitrateIn: null })), 'unknown');
  assert.equal(connectionQuality(health({})), 'good');
  assert.equal(connectionQuality(health({ lossPercent: 3 })), 'fair');
  assert.equal(connectionQuality(health({ rttMs: 300 })), 'fair');
  assert.equal(connectionQuality(health({ lossPercent: 9 })), 'poor');
  assert.equal(connectionQuality(health({ rttMs: 700 })), 'poor');
  assert.equal(connectionQuality(health({ freezes: 2 }), health({ freezes: 1 })), 'poor');
  assert.equal(connectionQuality(health({ freezes: 2 }), health({ freezes: 2 })), 'good');
});

test('sizes and durations read as words', () => {
  assert.equal(formatBytes(1000), '1000 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(12 * 1024 ** 2), '12 MiB');
  assert.equal(formatBytes(2 * 1024 ** 3), '2.0 GiB');
  assert.equal(formatDuration(45000), '45 s');
  assert.equal(formatDuration(3 * 60000), '3 min');
  assert.equal(formatDuration(65 * 60000), '1 h 5 min');
});

test('recent calls: newest first, with whom, at most 20, cleared', () => {
  const items = new Map();
  const storage = {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
  };
  const call = new RecentCall(storage);
  call.begin('first');
  call.note(['Ann', 'Ben', 'Ann']);
  call.end();
  call.begin('second');
  call.end();
  const calls = loadRecentCalls(storage);
  assert.deepEqual(calls.map((c) => c.room), ['second', 'first']);
  assert.deepEqual(calls[1].with, ['Ann', 'Ben']);
  assert.ok(calls[1].endedAt >= calls[1].startedAt);
  for (let i = 0; i < 25; i += 1) {
    call.begin(`room-${i}`);
    call.end();
  }
  assert.equal(loadRecentCalls(storage).length, 20);
  storage.setItem('p2pcall.recentCalls', 'not json');
  assert.deepEqual(loadRecentCalls(storage), []);
  clearRecentCalls(storage);
  assert.deepEqual(loadRecentCalls(storage), []);
});
