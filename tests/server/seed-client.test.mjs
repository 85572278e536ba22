// A plain `ws` client speaking the original Node app's messages, exactly as
// that app's page sends them, holds a two-party exchange through
// p2pcall-server at /ws and at / (where the original client connects).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';

async function startServer() {
  const webRoot = mkdtempSync(join(tmpdir(), 'p2pcall-seed-'));
  writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>seed</title>');
  const proc = spawn(process.env.P2PCALL_SERVER,
    ['--address', '127.0.0.1', '--port', '0', '--ice-server', 'none', '--web-root', webRoot],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', (code) => reject(new Error(`p2pcall-server exited with ${code}`)));
  });
  return {
    port,
    stop() {
      proc.kill('SIGTERM');
      rmSync(webRoot, { recursive: true, force: true });
    },
  };
}

// Collects messages so a test can wait for the next one of a type.
function seedClient(url) {
  const ws = new WebSocket(url);
  const inbox = [];
  const waiters = [];
  ws.on('message', (data) => {
    inbox.push(JSON.parse(data.toString()));
    waiters.splice(0).forEach((wake) => wake());
  });
  const opened = new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  return {
    ws,
    opened,
    send: (msg) => ws.send(JSON.stringify(msg)),
    async next(type) {
      const deadline = Date.now() + 10000;
      for (;;) {
        const i = inbox.findIndex((m) => m.type === type);
        if (i >= 0) return inbox.splice(i, 1)[0];
        if (Date.now() > deadline) throw new Error(`no "${type}" message; got ${JSON.stringify(inbox)}`);
        await new Promise((resolve) => { waiters.push(resolve); setTimeout(resolve, 200); });
      }
    },
  };
}

for (const path of ['/ws', '/']) {
  test(`the original app's two-party exchange at ${path}`, async () => {
    const server = await startServer();
    const a = seedClient(`ws://127.0.0.1:${server.port}${path}`);
    const b = seedClient(`ws://127.0.0.1:${server.port}${path}`);
    try {
      await Promise.all([a.opened, b.opened]);
      a.send({ type: 'join-room', roomId: 'myroom123' });
      const joinedA = await a.next('joined');
      b.send({ type: 'join-room', roomId: 'myroom123' });
      const joinedB = await b.next('joined');

      const userJoined = await a.next('user-joined');
      assert.equal(userJoined.from, joinedB.id);
      assert.deepEqual(userJoined.roomUsers, [joinedA.id, joinedB.id]);

      a.send({ type: 'offer', offer: { type: 'offer', sdp: 'v=0 offer' } });
      const offer = await b.next('offer');
      assert.deepEqual(offer.offer, { type: 'offer', sdp: 'v=0 offer' });
      assert.equal(offer.from, joinedA.id);

      b.send({ type: 'answer', answer: { type: 'answer', sdp: 'v=0 answer' } });
      const answer = await a.next('answer');
      assert.deepEqual(answer.answer, { type: 'answer', sdp: 'v=0 answer' });
      assert.equal(answer.from, joinedB.id);

      const candidate = { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 };
      a.send({ type: 'ice-candidate', candidate });
      assert.deepEqual((await b.next('ice-candidate')).candidate, candidate);
      b.send({ type: 'ice-candidate', candidate });
      assert.deepEqual((await a.next('ice-candidate')).candidate, candidate);

      b.ws.close();
      const gone = await a.next('user-disconnected');
      assert.equal(gone.from, joinedB.id);
    } finally {
      a.ws.terminate();
      b.ws.terminate();
      server.stop();
    }
  });
}
