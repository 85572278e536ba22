// 2,000 connections in 1,000 rooms relay offers and answers steadily (one
// exchange per room every 500 ms: 4,000 messages a second) while
// one more client floods its room: the flooder is rate-limited, the others
// lose nothing. Relay latency is printed for the record, never judged here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startP2pcall } from '../bench/servers.mjs';
import { openPairs, closePairs, bounce } from '../bench/relay-load.mjs';

test('a flooding client is rate-limited and nobody else loses a message', async () => {
  const server = await startP2pcall(['--max-connections-per-address', '5000']);
  let pairs = [];
  let flood = [];
  try {
    pairs = await openPairs(server.url, 2000);
    flood = await openPairs(server.url, 2, 'flood');
    const [{ a: flooder, b: target }] = flood;

    const refusals = [];
    flooder.on('message', (data) => {
      const msg = JSON.parse(data);
      if (msg.type === 'error') refusals.push(msg.code);
    });
    let flooded = 0;
    target.on('message', () => { flooded++; });

    const steady = bounce(pairs, 5, { intervalMs: 500 });
    const offer = JSON.stringify({ type: 'offer', offer: { type: 'offer', sdp: 'x'.repeat(512) } });
    const floodTimer = setInterval(() => {
      for (let i = 0; i < 500; i++) flooder.send(offer);
    }, 50);
    const figures = await steady;
    clearInterval(floodTimer);

    console.log(`relay under flood: ${figures.messagesPerSecond.toFixed(0)} msg/s, ` +
      `p50 ${figures.p50.toFixed(2)} ms, p99 ${figures.p99.toFixed(2)} ms, ` +
      `${figures.relayed} relayed, flooder sent ~${Math.round(5 / 0.05) * 500}, its room got ${flooded}`);

    assert.equal(figures.lost, 0, 'no steady message may be lost');
    assert.ok(figures.relayed > 2000, `steady pairs relayed only ${figures.relayed}`);
    assert.ok(refusals.includes('rate-limited'), 'the flooder is told it is rate-limited');
    // 200 at once plus 50 a second over about 5 s, with slack.
    assert.ok(flooded < 200 + 50 * 8, `the flooder got ${flooded} messages through`);
  } finally {
    closePairs(pairs);
    closePairs(flood);
    await server.stop();
  }
});
