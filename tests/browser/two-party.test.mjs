// Two Chromium pages in one room through /?room=: the call starts by itself,
// media flows both ways, and the in-call features show on the other page.
// One call carries every assertion, to keep the suite quick on 2 cores.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  callUrl, framesDecoded, launchBrowser, openCall, remoteTiles, screenshot, startServer, stopAll,
  waitConnected, waitFramesDecoded, waitInPage, waitRemoteTiles,
} from './lib/harness.mjs';

let server, browser, alice, bob, viewer;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  alice = await openCall(browser, callUrl(server, 'duo', { name: 'Alice' }));
  bob = await openCall(browser, callUrl(server, 'duo', { name: 'Bob' }), { viewport: { width: 390, height: 844 } });
});

after(async () => {
  for (const page of [alice, bob, viewer]) if (page) console.log(page.p2pcallLog.join('\n'));
  await stopAll();
});

test('both pages connect and decode the other one\'s video', async () => {
  await waitConnected(alice, 1);
  await waitConnected(bob, 1);
  await waitFramesDecoded(alice);
  await waitFramesDecoded(bob);
  for (const page of [alice, bob]) {
    await waitInPage(page, () => document.querySelector('#tiles .tile.remote video')?.videoWidth > 0);
    await waitInPage(page, () => document.querySelector('#signalling-status').dataset.state === 'connected');
  }
  const [bobSeenByAlice] = await remoteTiles(alice);
  const [aliceSeenByBob] = await remoteTiles(bob);
  assert.equal(bobSeenByAlice.name, 'Bob');
  assert.equal(aliceSeenByBob.name, 'Alice');
  assert.equal(bobSeenByAlice.connection, 'connected');
  // The health line shows the numbers from getStats once a second.
  await waitInPage(alice, () => /kbit|Mbit/.test(document.querySelector('.tile.remote .tile-health').textContent)
    && /\d+×\d+/.test(document.querySelector('.tile.remote .tile-health').textContent));
  await waitInPage(alice, () => /\?room=duo/.test(location.search));
  await alice.getByRole('button', { name: 'Copy invite link' }).click();
  assert.equal(await alice.getByRole('textbox', { name: 'Invite link' }).inputValue(), `${server.url}?room=duo`);
});

test('microphone and camera toggles show on the other page', async () => {
  await bob.getByRole('button', { name: 'Mute microphone' }).click();
  await waitInPage(alice, () => document.querySelector('.tile.remote').dataset.audio === 'off');
  await bob.getByRole('button', { name: 'Turn camera off' }).click();
  await waitInPage(alice, () => document.querySelector('.tile.remote').dataset.video === 'off');
  assert.match(await alice.locator('.tile.remote .marks').textContent(), /muted.*camera off/);
  assert.equal(await bob.evaluate(() => window.p2pcall.media.stream.getAudioTracks()[0].enabled), false);
  await screenshot(bob, 'two-party-phone-muted');
  await bob.getByRole('button', { name: 'Unmute microphone' }).click();
  await bob.getByRole('button', { name: 'Turn camera on' }).click();
  await waitInPage(alice, () => document.querySelector('.tile.remote').dataset.audio === 'on'
    && document.querySelector('.tile.remote').dataset.video === 'on');
});

test('a chat message arrives on the other page', async () => {
  await alice.getByLabel('Message').fill('hello from Alice');
  await alice.getByRole('button', { name: 'Send' }).click();
  await waitInPage(bob, () => document.querySelector('#chat-log').textContent.includes('Alice: hello from Alice'));
  await bob.getByLabel('Message').fill('hi Alice');
  await bob.keyboard.press('Enter');
  await waitInPage(alice, () => document.querySelector('#chat-log').textContent.includes('Bob: hi Alice'));
});

test('screen sharing swaps the outgoing track and back', async () => {
  const sentVideo = () => alice.evaluate(() => window.p2pcall.session.peerConnections[0].outgoingTrack('video')?.label);
  const cameraLabel = await sentVideo();
  await alice.getByRole('button', { name: 'Share screen' }).click();
  await waitInPage(bob, () => document.querySelector('.tile.remote').dataset.screen === 'on');
  const screenLabel = await sentVideo();
  assert.notEqual(screenLabel, cameraLabel);
  assert.equal(await alice.evaluate(() => window.p2pcall.media.stream.getVideoTracks()[0].getSettings().displaySurface), 'monitor');
  const frames = await waitFramesDecoded(bob);
  await waitFramesDecoded(bob, frames);    // the screen's frames keep coming
  await screenshot(alice, 'two-party-desktop-sharing');
  await screenshot(bob, 'two-party-phone-sharing');
  await alice.getByRole('button', { name: 'Stop sharing' }).click();
  await waitInPage(bob, () => document.querySelector('.tile.remote').dataset.screen === 'off');
  // replaceTrack() resolves after the state message may already be out.
  await waitInPage(alice, (label) =>
    window.p2pcall.session.peerConnections[0].outgoingTrack('video')?.label === label, cameraLabel);
});

test('simultaneous ICE restarts from both sides (glare) settle and the call goes on', async () => {
  const ufrag = (page) => page.evaluate(() => {
    const pc = window.p2pcall.session.peerConnections[0];
    return pc.signalingState === 'stable' ? /a=ice-ufrag:(\S+)/.exec(pc.localDescription.sdp)[1] : null;
  });
  const before = [await ufrag(alice), await ufrag(bob)];
  await Promise.all([alice, bob].map((page) => page.evaluate(() => window.p2pcall.session.peerConnections[0].restartIce())));
  await waitInPage(alice, (old) => {
    const pc = window.p2pcall.session.peerConnections[0];
    return pc.signalingState === 'stable' && !pc.localDescription.sdp.includes(`a=ice-ufrag:${old}\r`);
  }, before[0]);
  await waitInPage(bob, (old) => {
    const pc = window.p2pcall.session.peerConnections[0];
    return pc.signalingState === 'stable' && !pc.localDescription.sdp.includes(`a=ice-ufrag:${old}\r`);
  }, before[1]);
  for (const page of [alice, bob]) {
    await waitConnected(page, 1);
    await waitFramesDecoded(page, await framesDecoded(page));
  }
});

test('a page whose camera and microphone are refused joins to watch and listen', async () => {
  viewer = await openCall(browser, callUrl(server, 'duo', { name: 'Viewer' }), {
    initScript: () => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('refused', 'NotAllowedError'));
    },
  });
  await waitInPage(viewer, () => !document.querySelector('#notice').hidden);
  assert.match(await viewer.locator('#notice').textContent(), /access was refused.*still join to watch and listen/);
  await waitConnected(viewer, 2);
  await waitRemoteTiles(viewer, 2);
  await waitFramesDecoded(viewer);
  await waitInPage(viewer, () => [...document.querySelectorAll('.tile.remote video')].every((v) => v.videoWidth > 0));
  assert.equal(await viewer.getByRole('button', { name: 'Mute microphone' }).isDisabled(), true);
  await waitInPage(alice, () => [...document.querySelectorAll('.tile.remote')]
    .some((t) => t.querySelector('.tile-name').textContent === 'Viewer' && t.dataset.video === 'off' && t.dataset.audio === 'off'));
  await screenshot(viewer, 'viewer-desktop');
});
