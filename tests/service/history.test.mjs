// The call history (issue 20): what a host reads back with
// `p2pcall-server history` and GET /api/history after calls, a restart, a
// crash and the retention period; only for the admin; never SDP.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, stopAll } from '../browser/lib/harness.mjs';
import { member } from './lib.mjs';

const ADMIN = 'admin-secret-for-the-test';
const dir = mkdtempSync(join(tmpdir(), 'p2pcall-history-'));
after(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

// A member of @room whose client says what it is the way each kind does: a
// browser sends a browser User-Agent, the elements libsoup's, the original
// app's Node clients none.
async function joined(server, room, name, userAgent) {
  const m = await member(server, { headers: userAgent ? { 'User-Agent': userAgent } : {} });
  m.send({ type: 'join-room', roomId: room, name });
  m.id = (await m.receive('joined')).id;
  m.close = () => new Promise((resolve) => { m.ws.once('close', resolve); m.ws.close(); });
  return m;
}

const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36';
const ELEMENTS = 'libsoup/3.2.3';

function historyServer(db, extra = []) {
  return startServer({ args: ['--history-db', db, '--admin-secret', ADMIN, ...extra] });
}

async function api(server, query = '', secret = ADMIN) {
  const response = await fetch(`http://127.0.0.1:${server.port}/api/history${query}`,
    { headers: secret ? { Authorization: `Bearer ${secret}` } : {} });
  return { status: response.status, body: await response.json() };
}

function cli(db, ...args) {
  return new Promise((resolve) => {
    execFile(process.env.P2PCALL_SERVER, ['history', '--history-db', db, ...args], (error, stdout, stderr) => {
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('a call is logged with its members, their kinds and times, and never its SDP', async () => {
  const db = join(dir, 'calls.db');
  const server = await historyServer(db);
  const ada = await joined(server, 'standup', 'Ada', BROWSER);
  const gst = await joined(server, 'standup', 'camera', ELEMENTS);
  const plain = await joined(server, 'standup', 'bot', null);
  ada.send({ type: 'offer', to: gst.id, offer: { type: 'offer', sdp: 'v=0\r\no=- 4242 2 IN IP4 127.0.0.1\r\ns=secret-session\r\n' } });
  await gst.receive('offer');
  const during = await api(server);
  assert.equal(during.status, 200);
  assert.equal(during.body[0].room, 'standup');
  assert.equal(during.body[0].ended, null, 'the call is going on');
  await sleep(1100);
  await plain.close();
  await gst.close();
  await ada.close();
  await sleep(300);

  const { body } = await api(server, '?room=standup');
  assert.equal(body.length, 1);
  const [call] = body;
  assert.ok(call.ended && call.ended >= call.started, `ended ${call.ended} after started ${call.started}`);
  assert.equal(call.endedByRestart, false);
  assert.deepEqual(call.members.map((m) => [m.name, m.kind]),
    [['Ada', 'page'], ['camera', 'gstreamer'], ['bot', 'plain']]);
  for (const m of call.members) {
    assert.ok(m.left >= m.joined, `${m.name} left after joining`);
    assert.equal(m.address, undefined, 'no addresses without --history-addresses');
  }
  // A second call in the same room is a second entry, newest first.
  const again = await joined(server, 'standup', 'Ada', BROWSER);
  await again.close();
  await sleep(300);
  assert.equal((await api(server, '?room=standup')).body.length, 2);
  assert.equal((await api(server, '?room=standup&limit=1')).body.length, 1);
  assert.equal((await api(server, '?room=other')).body.length, 0);
  await server.stop();

  // Nothing of the offer reached the file.
  const bytes = readFileSync(db);
  assert.equal(bytes.includes('secret-session'), false);
  assert.equal(bytes.includes('v=0'), false);

  const table = await cli(db, '--room', 'standup');
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /standup +Ada \(page\), camera \(gstreamer\), bot \(plain\)/);
  const future = await cli(db, '--since', '2999-01-01');
  assert.match(future.stdout, /\(no calls\)/);
  const bad = await cli(db, '--since', 'yesterday');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--since "yesterday" is not a date/);
  const missing = await cli(join(dir, 'nothing-here.db'));
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nothing-here\.db/);
});

test('only the admin reads the history, with a clear 401 otherwise', async () => {
  const server = await historyServer(join(dir, 'admin.db'));
  const none = await api(server, '', null);
  assert.equal(none.status, 401);
  assert.match(none.body.error, /Authorization: Bearer/);
  assert.equal((await api(server, '', 'wrong')).status, 401);
  assert.equal((await api(server, '?limit=lots')).status, 400);
  assert.equal((await api(server, '?since=soon')).status, 400);
  await server.stop();

  const noSecret = await startServer({ args: ['--history-db', join(dir, 'admin.db')] });
  const refused = await api(noSecret, '', ADMIN);
  assert.equal(refused.status, 401);
  assert.match(refused.body.error, /--admin-secret/);
  await noSecret.stop();

  const off = await startServer({ args: ['--history-db', 'none', '--admin-secret', ADMIN] });
  assert.equal((await api(off)).status, 404);
  await off.stop();
});

test('addresses only with --history-addresses', async () => {
  const server = await historyServer(join(dir, 'addresses.db'), ['--history-addresses']);
  const m = await joined(server, 'where', 'Ada', BROWSER);
  await m.close();
  await sleep(300);
  const { body } = await api(server);
  assert.equal(body[0].members[0].address, '127.0.0.1');
  await server.stop();
});

test('calls open when the server stops or crashes are closed at the next start', async () => {
  const db = join(dir, 'crash.db');
  let server = await historyServer(db);
  await joined(server, 'killed', 'Ada', BROWSER);
  await joined(server, 'killed', 'Bob', BROWSER);
  // Killed outright: nobody's leave is written.
  server.process.kill('SIGKILL');
  await new Promise((resolve) => server.process.once('exit', resolve));
  await server.stop();

  server = await historyServer(db);
  const { body } = await api(server, '?room=killed');
  assert.equal(body.length, 1);
  assert.equal(body[0].endedByRestart, true);
  assert.ok(body[0].ended >= body[0].started);
  for (const m of body[0].members) assert.ok(m.left, `${m.name} has a leave time`);
  await server.stop();
});

test('calls older than --history-days are forgotten', async () => {
  const db = join(dir, 'old.db');
  let server = await historyServer(db);
  const m = await joined(server, 'recent', 'Ada', BROWSER);
  await m.close();
  await sleep(300);
  await server.stop();
  // A call that ended 40 days ago, as a server of back then wrote it.
  const old = Math.floor(Date.now() / 1000) - 40 * 86400;
  execFileSync('python3', ['-c', `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
cur = db.execute("INSERT INTO calls (room, started, ended) VALUES ('ancient', ?, ?)", (${old}, ${old + 60}))
db.execute("INSERT INTO members (call_id, peer_id, name, kind, address, joined, left_at) VALUES (?, 'p1', 'Old', 'page', '', ?, ?)", (cur.lastrowid, ${old}, ${old + 60}))
db.commit()
`, db]);
  assert.match((await cli(db)).stdout, /ancient/);

  server = await historyServer(db, ['--history-days', '30']);
  const rooms = (await api(server)).body.map((c) => c.room);
  assert.deepEqual(rooms, ['recent']);
  await server.stop();
});
