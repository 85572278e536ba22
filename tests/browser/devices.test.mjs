// Camera and microphone selection in a call, in real Chromium with fake
// devices: the chosen device replaces the track that goes out, without
// renegotiation, and the other side keeps seeing it. Chromium's second fake
// camera delivers 16-bit depth frames, which no encoder takes; its third is
// an ordinary (MJPEG) camera, so that is the one chosen.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  callUrl, framesDecoded, launchBrowser, openCall, screenshot, startServer, stopAll, waitConnected, waitFramesDecoded,
  waitInPage,
} from './lib/harness.mjs';

let server, browser, alice, bob;

before(async () => {
  server = await startServer();
  browser = await launchBrowser({ args: ['--use-fake-device-for-media-stream=device-count=3'] });
  alice = await openCall(browser, callUrl(server, 'devices', { name: 'Alice' }));
  bob = await openCall(browser, callUrl(server, 'devices', { name: 'Bob' }));
  await waitConnected(alice, 1);
  await waitConnected(bob, 1);
});

after(stopAll);

const sent = (page, kind) => page.evaluate((k) =>
  window.p2pcall.session.peerConnections[0].outgoingTrack(k)?.getSettings().deviceId, kind);

for (const [kind, label] of [['video', 'Camera'], ['audio', 'Microphone']]) {
  test(`choosing another ${label.toLowerCase()} changes what the other side gets`, async () => {
    await alice.evaluate(() => { document.querySelector('#video-device').closest('details').open = true; });
    const select = alice.getByLabel(label, { exact: true });
    await waitInPage(alice, (k) => document.querySelector(`#${k}-device`).options.length >= 2, kind);
    const before = await sent(alice, kind);
    const options = await select.locator('option').evaluateAll((os) => os.map((o) => o.value));
    assert.equal(await select.inputValue(), before, 'the list shows the device in use');
    const labels = await select.locator('option').evaluateAll((os) => os.map((o) => o.textContent));
    const other = kind === 'video' ? options[labels.indexOf('fake_device_2')] : options.find((id) => id !== before);
    assert.ok(other, `no other ${kind} device in ${labels}`);
    await select.selectOption(other);
    await waitInPage(alice, ([k, id]) =>
      window.p2pcall.session.peerConnections[0].outgoingTrack(k)?.getSettings().deviceId === id, [kind, other]);
    if (kind === 'video') {
      // Frames keep coming to Bob after the switch.
      await waitFramesDecoded(bob, (await framesDecoded(bob)) + 10);
      await screenshot(alice, 'devices-chosen');
    }
    // The old device is let go.
    assert.equal(await alice.evaluate((k) =>
      window.p2pcall.media.stream.getTracks().filter((t) => t.kind === k && t.readyState === 'live').length, kind), 1);
  });
}
