// Behind a reverse proxy every client arrives from the proxy's address.
// With --trusted-proxy the server takes the client's address from the
// proxy's Forwarded / X-Forwarded-For header, for the per-address cap and
// the call history; from anyone else those headers count for nothing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, stopAll } from '../browser/lib/harness.mjs';
import { member, waitOutput } from './lib.mjs';

const dir = mkdtempSync(join(tmpdir(), 'p2pcall-proxy-'));
after(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

// Resolves true when a WebSocket with @headers is let in, false when the
// server refuses the upgrade.
async function admitted(server, headers) {
  try {
    await member(server, { headers });
    return true;
  } catch {
    return false;
  }
}

const via = (client) => ({ 'X-Forwarded-For': client });

test('clients behind a trusted proxy each have their own per-address cap', async () => {
  const server = await startServer({ args: ['--trusted-proxy', '127.0.0.0/8', '--max-connections-per-address', '2'] });
  assert.equal(await admitted(server, via('203.0.113.1')), true);
  assert.equal(await admitted(server, via('203.0.113.1')), true);
  assert.equal(await admitted(server, via('203.0.113.1')), false, 'a third from the same client is over its cap');
  // Other users of the same proxy are not: the 65th user of a whole server
  // behind nginx was refused before.
  assert.equal(await admitted(server, via('203.0.113.2')), true);
  assert.equal(await admitted(server, { Forwarded: 'for="[2001:db8::7]:4711";proto=https' }), true);
  assert.equal(await admitted(server, { Forwarded: 'for=198.51.100.9, for=127.0.0.1' }), true,
    'the nearest hop that is not a trusted proxy is the client');
  // The refusal's log line may reach us after the refusal itself.
  await waitOutput(server, /refused WebSocket from 203\.0\.113\.1: it has 2 connections open/);
});

test('from anyone else the headers are ignored', async () => {
  const server = await startServer({ args: ['--max-connections-per-address', '2'] });
  assert.equal(await admitted(server, via('203.0.113.1')), true);
  assert.equal(await admitted(server, via('203.0.113.2')), true);
  // A client cannot pick itself a fresh address: all three are 127.0.0.1.
  assert.equal(await admitted(server, via('203.0.113.3')), false);
  await waitOutput(server, /refused WebSocket from 127\.0\.0\.1/);
});

test('a header that cannot be read leaves the proxy\'s own address', async () => {
  const server = await startServer({ args: ['--trusted-proxy', '127.0.0.1', '--max-connections-per-address', '1'] });
  assert.equal(await admitted(server, via('unknown')), true);
  assert.equal(await admitted(server, via('not-an-address')), false, 'both count as 127.0.0.1');
});

test('the history keeps the forwarded address', async () => {
  const server = await startServer({ args: ['--trusted-proxy', '127.0.0.1', '--history-db', join(dir, 'h.db'),
    '--history-addresses', '--admin-secret', 's'] });
  const m = await member(server, { headers: via('203.0.113.50') });
  m.send({ type: 'join-room', roomId: 'proxied' });
  await m.receive('joined');
  const response = await fetch(`http://127.0.0.1:${server.port}/api/history`, { headers: { Authorization: 'Bearer s' } });
  const [call] = await response.json();
  assert.equal(call.members[0].address, '203.0.113.50');
});

test('a bad --trusted-proxy is refused with its value', async () => {
  // execFile hands back stderr once the process and its pipes are done.
  const refused = await new Promise((resolve) => {
    execFile(process.env.P2PCALL_SERVER, ['--port', '0', '--trusted-proxy', '10.0.0.0/99'],
      (error, stdout, stderr) => resolve({ code: error?.code, stderr }));
  });
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /trusted-proxy.*"10\.0\.0\.0\/99" is not an address or a CIDR range/s);
});
