// GET /metrics scraped during a call: two WebSocket members relay an offer,
// an answer and a candidate; the Prometheus text parses, and its figures say
// what happened. The figures are only on --metrics-address, never beside the
// page.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopAll } from '../browser/lib/harness.mjs';
import { member, waitOutput } from './lib.mjs';

after(stopAll);

// Prometheus text format 0.0.4: samples by name and label set; every
// sample belongs to a family announced by # TYPE.
function parseMetrics(text) {
  const types = new Map();
  const samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1], type[2]);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const value = Number(m[3].replace('+Inf', 'Infinity'));
    assert.ok(!Number.isNaN(value), `not a number: ${line}`);
    const family = m[1].replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(m[1]) || types.get(family) === 'histogram', `no # TYPE for ${m[1]}`);
    samples.set(m[1] + (m[2] ?? ''), value);
  }
  return samples;
}

async function scrape(url) {
  const reply = await fetch(url);
  assert.equal(reply.status, 200);
  assert.match(reply.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return parseMetrics(await reply.text());
}

test('metrics during a call', async () => {
  const server = await startServer({ args: ['--metrics-address', '127.0.0.1:0'] });
  const [, metricsUrl] = await waitOutput(server, /metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/);
  assert.notEqual(new URL(metricsUrl).port, String(server.port));

  const before = await scrape(metricsUrl);
  assert.equal(before.get('p2pcall_connections'), 0);
  assert.equal(before.get('p2pcall_rooms'), 0);

  const a = await member(server);
  const b = await member(server);
  a.send({ type: 'join-room', roomId: 'metrics' });
  const joinedA = await a.receive('joined');
  b.send({ type: 'join-room', roomId: 'metrics' });
  const joinedB = await b.receive('joined');
  a.send({ type: 'offer', to: joinedB.id, offer: { type: 'offer', sdp: 'v=0' } });
  await b.receive('offer');
  b.send({ type: 'answer', to: joinedA.id, answer: { type: 'answer', sdp: 'v=0' } });
  await a.receive('answer');
  a.send({ type: 'ice-candidate', to: joinedB.id, candidate: { candidate: '', sdpMid: '0' } });
  await b.receive('ice-candidate');
  a.send({ type: 'no-such-type' });
  await a.receive('error');

  const during = await scrape(metricsUrl);
  assert.equal(during.get('p2pcall_connections'), 2);
  assert.equal(during.get('p2pcall_rooms'), 1);
  assert.equal(during.get('p2pcall_members'), 2);
  assert.equal(during.get('p2pcall_joins_total'), 2);
  assert.equal(during.get('p2pcall_messages_relayed_total{type="offer"}'), 1);
  assert.equal(during.get('p2pcall_messages_relayed_total{type="answer"}'), 1);
  assert.equal(during.get('p2pcall_messages_relayed_total{type="ice-candidate"}'), 1);
  assert.equal(during.get('p2pcall_refusals_total{code="unknown-type"}'), 1);
  assert.equal(during.get('p2pcall_turn_credentials_total'), 0);
  // Every message handled is in the histogram; buckets only grow with le.
  const count = during.get('p2pcall_message_handling_seconds_count');
  assert.equal(count, 6);
  assert.equal(during.get('p2pcall_message_handling_seconds_bucket{le="+Inf"}'), count);
  const buckets = [...during].filter(([k]) => k.startsWith('p2pcall_message_handling_seconds_bucket'));
  assert.ok(buckets.length > 5);
  buckets.reduce((prev, [k, v]) => { assert.ok(v >= prev, `${k} below the bucket before`); return v; }, 0);
  assert.ok(during.get('process_resident_memory_bytes') > 0);
  assert.ok(during.get('process_open_fds') > 0);
  assert.ok(during.get('process_start_time_seconds') > 1.6e9);

  b.ws.close();
  await a.receive('user-disconnected');
  const after = await scrape(metricsUrl);
  assert.equal(after.get('p2pcall_members'), 1);
  assert.equal(after.get('p2pcall_leaves_total'), 1);
  a.ws.close();

  // Not beside the page, and nothing else on the metrics listener.
  assert.equal((await fetch(`${server.url}metrics`)).status, 404);
  assert.equal((await fetch(metricsUrl.replace('/metrics', '/'))).status, 404);
});

test('a bad --metrics-address is named', async () => {
  await assert.rejects(startServer({ args: ['--metrics-address', 'localhost:nine'] }),
    /--metrics-address "localhost:nine"/);
});
