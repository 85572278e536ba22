// Signals as systemd sends them. SIGTERM: every member is told (close 1001)
// and the process exits. SIGHUP: the TLS certificate and the secrets are read
// again from the config file while members stay connected; a bad file keeps
// what runs.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { startServer, stopAll } from '../browser/lib/harness.mjs';
import { member, waitOutput } from './lib.mjs';

after(stopAll);

function hs256Token(secret, room) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ room, exp: Math.floor(Date.now() / 1000) + 600 })}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

// A self-signed certificate for 127.0.0.1 in @dir, named @name.
function makeCertificate(dir, name) {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${name}`,
    '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}

// The certificate a new TLS connection is given.
function servedCertificate(port) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().subject.CN);
      socket.end();
    });
    socket.once('error', reject);
  });
}

test('SIGTERM tells every member (1001) and exits', async () => {
  const server = await startServer();
  const a = await member(server);
  const b = await member(server);
  a.send({ type: 'join-room', roomId: 'term' });
  await a.receive('joined');
  b.send({ type: 'join-room', roomId: 'term' });
  await b.receive('joined');
  const exited = new Promise((resolve) => { server.process.once('exit', (code) => resolve(code)); });
  server.process.kill('SIGTERM');
  assert.deepEqual(await Promise.all([a.closed, b.closed]), [1001, 1001]);
  assert.equal(await exited, 0);
  assert.match(server.output(), /p2pcall-server: stopped/);
});

test('SIGHUP re-reads the certificate and the secrets without dropping anyone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2pcall-hup-'));
  try {
    const first = makeCertificate(dir, 'first');
    const second = makeCertificate(dir, 'second');
    const config = join(dir, 'p2pcall-server.conf');
    const writeConfig = (secret, { cert, key }) => writeFileSync(config,
      `[server]\nauth-secret = ${secret}\ntls-cert = ${cert}\ntls-key = ${key}\n`);
    writeConfig('first-secret', first);
    const server = await startServer({ args: ['--config', config] });
    assert.match(server.url, /^https:/);
    assert.equal(await servedCertificate(server.port), 'first');

    const a = await member(server);
    a.send({ type: 'join-room', roomId: 'hup', token: hs256Token('first-secret', 'hup') });
    await a.receive('joined');

    writeConfig('second-secret', second);
    server.process.kill('SIGHUP');
    await waitOutput(server, /reloaded secrets and TLS certificate/);
    assert.equal(await servedCertificate(server.port), 'second');

    const b = await member(server);
    b.send({ type: 'join-room', roomId: 'hup', token: hs256Token('first-secret', 'hup') });
    assert.equal((await b.receive('error')).code, 'unauthorized');
    b.send({ type: 'join-room', roomId: 'hup', token: hs256Token('second-secret', 'hup') });
    await b.receive('joined');
    // a is still there: it hears b join, over its first connection.
    assert.ok((await a.receive('user-joined')).from);

    // A broken file: a warning, and the running secrets and certificate stay.
    writeFileSync(config, '[server]\nauth-secret = third-secret\ntls-cert = /nonexistent.crt\n');
    server.process.kill('SIGHUP');
    await waitOutput(server, /reload failed, keeping the running secrets: --tls-cert and --tls-key go together/);
    assert.equal(await servedCertificate(server.port), 'second');
    const c = await member(server);
    c.send({ type: 'join-room', roomId: 'hup', token: hs256Token('second-secret', 'hup') });
    await c.receive('joined');
    for (const m of [a, b, c]) m.ws.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
