// The signalling server stops mid-call and comes back on the same port:
// both pages show 'reconnecting', rejoin with new ids, recognise each other
// by clientId, and keep the same peer connection, tile and media.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  callUrl, framesDecoded, launchBrowser, openCall, remoteTiles, startServer, stopAll,
  waitConnected, waitFramesDecoded, waitInPage,
} from './lib/harness.mjs';

let server, browser, alice, bob;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  alice = await openCall(browser, callUrl(server, 'phoenix', { name: 'Alice' }));
  bob = await openCall(browser, callUrl(server, 'phoenix', { name: 'Bob' }));
});

after(async () => {
  for (const page of [alice, bob]) if (page) console.log(page.p2pcallLog.join('\n'));
  await stopAll();
});

const ownId = (page) => page.evaluate(() => window.p2pcall.state.ownId);
const statusOf = (state) => (s) => document.querySelector('#signalling-status').dataset.state === s;

test('media keeps flowing through a signalling restart and both pages rejoin', async () => {
  for (const page of [alice, bob]) {
    await waitConnected(page, 1);
    await waitFramesDecoded(page);
    await page.evaluate(() => { window.connectionBeforeRestart = window.p2pcall.session.peerConnections[0]; });
  }
  const idsBefore = [await ownId(alice), await ownId(bob)];
  const port = server.port;

  await server.stop();
  for (const page of [alice, bob]) await waitInPage(page, statusOf(), 'reconnecting');
  const framesWhileDown = await framesDecoded(bob);
  await waitFramesDecoded(bob, framesWhileDown);     // no server, still media
  assert.equal(await bob.locator('#signalling-status').textContent(), 'Reconnecting to the server…');

  server = await startServer({ port });
  for (const page of [alice, bob]) await waitInPage(page, statusOf(), 'connected');
  await waitInPage(alice, (old) => window.p2pcall.state.ownId && window.p2pcall.state.ownId !== old, idsBefore[0]);
  await waitInPage(bob, (old) => window.p2pcall.state.ownId && window.p2pcall.state.ownId !== old, idsBefore[1]);
  const idsAfter = [await ownId(alice), await ownId(bob)];

  // Each page's one tile now carries the other's new id: it was recognised.
  await waitInPage(alice, (id) => document.querySelector('.tile.remote')?.dataset.peerId === id, idsAfter[1]);
  await waitInPage(bob, (id) => document.querySelector('.tile.remote')?.dataset.peerId === id, idsAfter[0]);
  for (const page of [alice, bob]) {
    assert.equal((await remoteTiles(page)).length, 1);
    assert.equal(await page.evaluate(() => window.p2pcall.session.peerConnections.length), 1);
    assert.ok(await page.evaluate(() => window.p2pcall.session.peerConnections[0] === window.connectionBeforeRestart),
      'the peer connection from before the restart is kept');
    await waitConnected(page, 1);
    await waitFramesDecoded(page, await framesDecoded(page));
  }

  // Signalling works again end to end: a state change reaches the other page.
  await alice.getByRole('button', { name: 'Mute microphone' }).click();
  await waitInPage(bob, () => document.querySelector('.tile.remote').dataset.audio === 'off');
});

test('an ICE restart asked for while the server is away is offered once it is back', async () => {
  const ufrag = (page) => page.evaluate(() => /a=ice-ufrag:(\S+)/.exec(window.p2pcall.session.peerConnections[0].localDescription.sdp)[1]);
  const before = await ufrag(alice);
  const port = server.port;
  await server.stop();
  await waitInPage(alice, statusOf(), 'reconnecting');
  // The restart offer has no socket to go out on.
  await alice.evaluate(() => window.p2pcall.session.peerConnections[0].restartIce());
  await waitInPage(alice, () => window.p2pcall.session.peerConnections[0].signalingState === 'have-local-offer');
  server = await startServer({ port });
  await waitInPage(alice, (old) => {
    const pc = window.p2pcall.session.peerConnections[0];
    return pc.signalingState === 'stable' && !pc.localDescription.sdp.includes(`a=ice-ufrag:${old}\r`);
  }, before);
  for (const page of [alice, bob]) {
    await waitConnected(page, 1);
    await waitFramesDecoded(page, await framesDecoded(page));
  }
});
