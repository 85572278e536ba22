// Issue 19, item 10: a member that copies another member's clientId into its
// own peer-state must not take over that person's tile and connection. Two
// Chromium pages in a call; a third member, a plain WebSocket client, joins
// and claims Bob's clientId (every member sees it in `joined.peers`).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import {
  callUrl, launchBrowser, openCall, remoteTiles, screenshot, startServer, stopAll, waitConnected, waitInPage,
} from './lib/harness.mjs';

let server, browser, alice, bob, impostor;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  alice = await openCall(browser, callUrl(server, 'imp', { name: 'Alice' }));
  bob = await openCall(browser, callUrl(server, 'imp', { name: 'Bob' }));
});

after(async () => {
  impostor?.terminate();
  for (const page of [alice, bob]) if (page) console.log(page.p2pcallLog.join('\n'));
  await stopAll();
});

test('a copied clientId does not take over a live member', async () => {
  await waitConnected(alice, 1);
  await waitConnected(bob, 1);
  const bobId = await bob.evaluate(() => window.p2pcall.state.ownId);

  impostor = new WebSocket(server.url.replace(/^http/, 'ws') + 'ws', { perMessageDeflate: false });
  const inbox = [];
  impostor.on('message', (data) => inbox.push(JSON.parse(data)));
  await new Promise((resolve, reject) => { impostor.once('open', resolve); impostor.once('error', reject); });
  impostor.send(JSON.stringify({ type: 'join-room', roomId: 'imp', name: 'Mallory' }));
  await waitFor(() => inbox.find((m) => m.type === 'joined'));
  const joined = inbox.find((m) => m.type === 'joined');
  const bobClientId = joined.peers.find((p) => p.id === bobId)?.state?.clientId;
  assert.ok(bobClientId, 'Bob\'s clientId is visible to every member');
  // At once, while Alice's connection to the newcomer is still being made.
  impostor.send(JSON.stringify({
    type: 'peer-state',
    state: { audio: true, video: true, screen: false, name: 'Mallory', clientId: bobClientId },
  }));

  await waitInPage(alice, () => [...document.querySelectorAll('#tiles .tile.remote .tile-name')]
    .some((n) => n.textContent === 'Mallory'));
  // Give a takeover time to show.
  await new Promise((r) => setTimeout(r, 1500));
  const remoteIds = await alice.evaluate(() => window.p2pcall.session.peerConnections
    .map((pc) => ({ id: pc.remoteId, state: pc.connectionState })));
  const toBob = remoteIds.find((pc) => pc.id === bobId);
  assert.ok(toBob, `Alice still has a connection addressed to Bob: ${JSON.stringify(remoteIds)}`);
  assert.equal(toBob.state, 'connected');
  const tiles = await remoteTiles(alice);
  const bobTile = tiles.find((t) => t.name === 'Bob');
  assert.ok(bobTile, `Bob's tile keeps his name: ${JSON.stringify(tiles)}`);
  assert.equal(bobTile.connection, 'connected');
  assert.ok(tiles.some((t) => t.name === 'Mallory'), 'the impostor is a participant of its own');
  await screenshot(alice, 'impostor-own-tile');
  // Bob's next renegotiation goes to Bob, not to the impostor.
  const before = inbox.length;
  await bob.getByRole('button', { name: 'Share screen' }).click();
  await waitInPage(alice, () => [...document.querySelectorAll('.tile.remote')]
    .some((t) => t.dataset.screen === 'on'));
  await new Promise((r) => setTimeout(r, 1000));
  const leaked = inbox.slice(before).filter((m) => m.type === 'answer' || m.type === 'offer');
  assert.deepEqual(leaked.map((m) => m.type), [], 'the impostor gets none of Bob\'s renegotiation');
});

async function waitFor(predicate, timeout = 10000) {
  const until = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
