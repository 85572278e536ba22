// --log-format json: every line the server logs is one JSON object, and a
// call's joins and leaves carry their event, room and peer id. A refused
// token tells the client nothing more than `unauthorized`; the log says why.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopAll } from '../browser/lib/harness.mjs';
import { member, waitOutput } from './lib.mjs';

after(stopAll);

// The JSON lines of the server's stderr (stdout keeps its plain status
// lines, which scripts read).
function jsonLines(server) {
  return server.output().split('\n')
    .filter((line) => !line.startsWith('p2pcall-server: ') && line.trim() !== '')
    .map((line) => JSON.parse(line));
}

test('joins and leaves as JSON lines', async () => {
  const server = await startServer({ args: ['--log-format', 'json'] });
  const a = await member(server);
  const b = await member(server);
  a.send({ type: 'join-room', roomId: 'logged' });
  const joinedA = await a.receive('joined');
  b.send({ type: 'join-room', roomId: 'logged' });
  const joinedB = await b.receive('joined');
  b.ws.close();
  await a.receive('user-disconnected');
  await waitOutput(server, /"event":"leave"/);
  a.ws.close();

  const lines = jsonLines(server);
  const joins = lines.filter((l) => l.event === 'join');
  assert.deepEqual(joins.map((l) => [l.room, l.peer, l.members]),
    [['logged', joinedA.id, 1], ['logged', joinedB.id, 2]]);
  const leave = lines.find((l) => l.event === 'leave');
  assert.equal(leave.room, 'logged');
  assert.equal(leave.peer, joinedB.id);
  assert.equal(leave.members, 1);
  for (const line of lines) {
    assert.ok(!Number.isNaN(Date.parse(line.time)), `time in ${JSON.stringify(line)}`);
    assert.equal(typeof line.level, 'string');
    assert.equal(typeof line.message, 'string');
  }
});

test('a refused token: no detail to the client, the reason in the log', async () => {
  const server = await startServer({ args: ['--log-format', 'json', '--auth-secret', 'log-test'] });
  const a = await member(server);
  // alg none: the classic forgery.
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${
    Buffer.from('{"room":"r","exp":4102444800}').toString('base64url')}.`;
  a.send({ type: 'join-room', roomId: 'r', token: none });
  const refusal = await a.receive('error');
  assert.equal(refusal.code, 'unauthorized');
  assert.doesNotMatch(refusal.message, /alg|none|signature|HS256/i);
  await waitOutput(server, /"event":"refused token"/);
  const logged = jsonLines(server).find((l) => l.event === 'refused token');
  assert.equal(logged.room, 'r');
  assert.match(logged.message, /algorithm/);
  a.ws.close();
});

test('a bad --log-format is named', async () => {
  await assert.rejects(startServer({ args: ['--log-format', 'xml'] }),
    /--log-format must be text or json, not "xml"/);
});
