// The frame and handshake layer, fuzzed against the real server: mutated
// upgrade requests and HTTP heads, and after a good handshake random
// WebSocket frames (any opcode, RSV bits, lengths that lie, fragments
// without end, oversized control frames, unmasked frames). Seeded, so a
// failure replays with the printed seed. Nothing may crash the server,
// and a room elsewhere keeps relaying throughout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startP2pcall } from '../bench/servers.mjs';
import { openPairs, closePairs, bounce } from '../bench/relay-load.mjs';
import { rawWebSocket, frame } from '../server/raw-websocket.mjs';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 600);
const SEED = Number(process.env.FUZZ_SEED ?? 19);

// mulberry32: small, seeded, good enough to pick mutations.
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HEAD = 'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n' +
  'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
  'Sec-WebSocket-Version: 13\r\n\r\n';
const MESSAGES = [
  '{"type":"join-room","roomId":"fuzz"}',
  '{"type":"offer","offer":{"type":"offer","sdp":"s"}}',
  '{"type":"peer-state","state":{"audio":true,"x":1e999}}',
  '{"type":"leave-room"}',
];

function mutate(rand, bytes) {
  const b = Buffer.from(bytes);
  const n = 1 + Math.floor(rand() * 4);
  let out = b;
  for (let i = 0; i < n && out.length; i++) {
    const at = Math.floor(rand() * out.length);
    switch (Math.floor(rand() * 4)) {
      case 0: out[at] = Math.floor(rand() * 256); break;
      case 1: out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]); break;
      case 2: out = Buffer.concat([out.subarray(0, at), Buffer.from([Math.floor(rand() * 256)]), out.subarray(at)]); break;
      default: out = out.subarray(0, at);
    }
  }
  return out;
}

function randomFrame(rand) {
  const opcode = [0, 1, 2, 8, 9, 10, 3, 11, 15][Math.floor(rand() * 9)];
  const size = [0, 5, 125, 126, 200, 65535, 70000][Math.floor(rand() * 7)];
  const payload = Buffer.from(
    opcode === 1 ? MESSAGES[Math.floor(rand() * MESSAGES.length)].padEnd(size, ' ') : 'x'.repeat(size));
  let f = frame(opcode, payload, { fin: rand() < 0.7, rsv1: rand() < 0.1 });
  if (rand() < 0.1) f[1] &= 0x7f;             // unmasked
  if (rand() < 0.2) f = mutate(rand, f);
  return f;
}

function send(port, chunks) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    s.on('data', () => {});
    s.on('connect', () => {
      for (const c of chunks) s.write(c);
      setTimeout(() => s.destroy(), 50);
    });
  });
}

async function oneCase(rand, port) {
  const kind = rand();
  if (kind < 0.3) {
    await send(port, [mutate(rand, Buffer.from(HEAD))]);
    return;
  }
  let ws;
  try {
    ws = await rawWebSocket(port);
  } catch {
    return;
  }
  const frames = [];
  const count = 1 + Math.floor(rand() * 6);
  for (let i = 0; i < count; i++) frames.push(randomFrame(rand));
  for (const f of frames) ws.socket.write(f);
  await new Promise((r) => setTimeout(r, 20));
  ws.socket.destroy();
}

test(`frames and handshakes: ${ITERATIONS} cases, seed ${SEED}`, async () => {
  const server = await startP2pcall(['--max-connections-per-address', '1000']);
  const probe = await openPairs(server.url, 2, 'fuzz-probe');
  try {
    const rand = random(SEED);
    const figures = bounce(probe, 1, { intervalMs: 50 });
    for (let i = 0; i < ITERATIONS; i += 8) {
      await Promise.all(Array.from({ length: 8 }, () => oneCase(rand, server.port)));
      assert.ok(server.rssKiB() > 0, `server gone after case ${i}`);
    }
    assert.equal((await figures).lost, 0);
    // The probe room still relays once the fuzzing is over.
    const after = await bounce(probe, 1, { intervalMs: 50 });
    assert.equal(after.lost, 0);
    assert.ok(after.relayed > 0);
    console.log(`fuzzed ${ITERATIONS} connections; server RSS ${server.rssKiB()} KiB after`);
  } finally {
    closePairs(probe);
    await server.stop();
  }
});
