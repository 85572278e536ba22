// The page as people look at it, in a three-member call: a desktop window
// (1280x800) and a phone in Chromium's emulation (touch, scale factor 3)
// held upright (390x844) and sideways (844x390). Every tile fits on the
// screen, nothing scrolls sideways, the controls are thumb-size, names
// are distinct without being given, the quality mark opens its numbers,
// and the page is an installable app (manifest, service worker, offline).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import {
  CHROMIUM_FLAGS, callUrl, launchBrowser, openCall, screenshot, startServer, stopAll,
  waitConnected, waitInPage, waitRemoteTiles,
} from './lib/harness.mjs';

const PHONE = { isMobile: true, hasTouch: true, deviceScaleFactor: 3 };
// The smallest touch target the platforms' guidelines accept, in CSS px.
const THUMB = 44;

let server, browser, desk, phone, third;

before(async () => {
  server = await startServer();
  // Two cameras, front and back as on a phone.
  browser = await launchBrowser({ args: ['--use-fake-device-for-media-stream=device-count=2'] });
  desk = await openCall(browser, callUrl(server, 'looks', { name: 'Desk' }));
  // Phone and third member give no name: each gets a distinct one.
  phone = await openCall(browser, callUrl(server, '', { device: 'phone' }), { viewport: { width: 390, height: 844 }, device: PHONE });
  await allowWakeLock(phone);
  await phone.getByLabel('Room ID').fill('looks');
  await phone.getByRole('button', { name: 'Join room' }).click();
  third = await openCall(browser, callUrl(server, 'looks'));
  for (const page of [desk, phone, third]) {
    await waitConnected(page, 2);
    await waitRemoteTiles(page, 2);
    await waitInPage(page, () => [...document.querySelectorAll('#tiles video')].every((v) => v.videoWidth > 0));
  }
});

// A call page's context grants the camera and microphone only (playwright
// denies the rest); a phone's browser grants screen wake locks by itself.
async function allowWakeLock(page) {
  const cdp = await browser.newBrowserCDPSession();
  const url = page.url();
  const { targetInfos } = await cdp.send('Target.getTargets');
  const { browserContextId } = targetInfos.find((target) => target.type === 'page' && target.url === url);
  await cdp.send('Browser.grantPermissions', {
    browserContextId, permissions: ['videoCapture', 'audioCapture', 'wakeLockScreen'],
  });
  await cdp.detach();
}

after(async () => {
  for (const page of [desk, phone, third]) if (page) console.log(page.p2pcallLog.join('\n'));
  await stopAll();
});

// What a person sees of the call in @page's viewport.
function layout(page) {
  return page.evaluate(() => {
    scrollTo(0, 0);
    const box = (el) => el.getBoundingClientRect().toJSON();
    return {
      viewport: { width: innerWidth, height: innerHeight },
      scrollWidth: document.documentElement.scrollWidth,
      tiles: [...document.querySelectorAll('#tiles .tile')].map(box),
      controls: [...document.querySelectorAll('.controls button')].filter((b) => !b.hidden).map((b) => ({
        label: b.getAttribute('aria-label'), ...box(b),
      })),
    };
  });
}

function assertFits(view, what) {
  assert.ok(view.scrollWidth <= view.viewport.width, `${what}: scrolls sideways (${view.scrollWidth} px wide)`);
  for (const tile of view.tiles) {
    assert.ok(tile.left >= 0 && tile.right <= view.viewport.width + 0.5
      && tile.top >= 0 && tile.bottom <= view.viewport.height + 0.5, `${what}: a tile is off screen: ${JSON.stringify(tile)}`);
  }
  for (const button of view.controls) {
    assert.ok(button.bottom <= view.viewport.height + 0.5 && button.right <= view.viewport.width + 0.5,
      `${what}: the ${button.label} button is off screen`);
  }
}

function assertThumbSize(view) {
  for (const button of view.controls) {
    assert.ok(button.width >= THUMB && button.height >= THUMB, `${button.label} is ${button.width}x${button.height}`);
  }
}

test('members without a name get distinct names, the same on every page', async () => {
  const names = (page) => page.$$eval('#tiles .tile.remote .tile-name', (els) => els.map((el) => el.textContent).sort());
  const seenByDesk = await names(desk);
  assert.equal(new Set(seenByDesk).size, 2);
  for (const name of seenByDesk) assert.match(name, /^[A-Z][a-z]+ [A-Z][a-z]+$/);
  const seenByPhone = await names(phone);
  assert.ok(seenByPhone.includes('Desk'));
  const thirdName = seenByPhone.find((name) => name !== 'Desk');
  assert.ok(seenByDesk.includes(thirdName), `${thirdName} is not among ${seenByDesk}`);
});

test('the controls are icon buttons with labels and a visible off state', async () => {
  const mic = desk.getByRole('button', { name: 'Mute microphone' });
  assert.equal(await mic.getAttribute('aria-pressed'), 'false');
  assert.equal(await mic.locator('.slash').isVisible(), false);
  await mic.click();
  const unmute = desk.getByRole('button', { name: 'Unmute microphone' });
  assert.equal(await unmute.getAttribute('aria-pressed'), 'true');
  assert.equal(await unmute.locator('.slash').isVisible(), true);
  await waitInPage(phone, () => [...document.querySelectorAll('.tile.remote')]
    .some((t) => t.querySelector('.tile-name').textContent === 'Desk' && t.dataset.audio === 'off'));
  await screenshot(desk, 'page-desktop-muted');
  await unmute.click();
});

test('each tile has a quality mark; its numbers open on a click', async () => {
  // Good, fair or poor depends on the machine's load (freezes count as poor).
  await waitInPage(desk, () => [...document.querySelectorAll('.tile.remote')].every((t) => t.dataset.quality !== 'unknown'));
  const tile = desk.locator('.tile.remote').first();
  assert.equal(await tile.locator('.tile-health').isVisible(), false);
  assert.match(await tile.locator('.quality summary').getAttribute('aria-label'), /^Connection quality: (good|fair|poor)$/);
  await tile.locator('.quality summary').click();
  await waitInPage(desk, () => /kbit|Mbit/.test(document.querySelector('.tile.remote .tile-health').textContent));
  assert.equal(await tile.locator('.tile-health').isVisible(), true);
  assert.match(await tile.locator('.tile-health').textContent(), /RTT \d+ ms/);
  await screenshot(desk, 'page-desktop-health');
  await tile.locator('.quality summary').click();
});

test('the active speaker is highlighted from its audio level', async () => {
  // Every fake microphone plays a tone: with two muted, the third speaks.
  await phone.getByRole('button', { name: 'Mute microphone' }).click();
  await third.getByRole('button', { name: 'Mute microphone' }).click();
  await waitInPage(phone, () => document.querySelector('.tile.speaking .tile-name')?.textContent === 'Desk');
  await waitInPage(third, () => document.querySelector('.tile.speaking .tile-name')?.textContent === 'Desk');
  await waitInPage(desk, () => document.querySelector('#local-tile').classList.contains('speaking'));
  assert.equal(await phone.locator('.tile.speaking').count(), 1);
});

test('picture-in-picture shows the active speaker', async () => {
  // Desk speaks (the others are muted): third's window shows Desk's video.
  await third.getByRole('button', { name: 'Picture in picture' }).click();
  await waitInPage(third, () => document.pictureInPictureElement?.closest('.tile')?.querySelector('.tile-name').textContent === 'Desk');
  await third.getByRole('button', { name: 'Picture in picture' }).click();
  await waitInPage(third, () => document.pictureInPictureElement === null);
});

test('a three-member call fits a desktop window and a phone held both ways', async () => {
  assertFits(await layout(desk), 'desktop 1280x800');
  await screenshot(desk, 'page-desktop-three');
  const upright = await layout(phone);
  assertFits(upright, 'phone 390x844');
  assertThumbSize(upright);
  await screenshot(phone, 'page-phone-portrait-three');
  await phone.setViewportSize({ width: 844, height: 390 });
  await waitInPage(phone, () => innerWidth === 844);
  const sideways = await layout(phone);
  assertFits(sideways, 'phone 844x390');
  assertThumbSize(sideways);
  await screenshot(phone, 'page-phone-landscape-three');
  await phone.setViewportSize({ width: 390, height: 844 });
});

test('a phone can switch between its cameras', async () => {
  const camera = () => phone.evaluate(() => window.p2pcall.media.stream.getVideoTracks()[0].getSettings().deviceId);
  const before = await camera();
  await phone.getByRole('button', { name: 'Switch camera' }).click();
  await waitInPage(phone, (old) => window.p2pcall.media.stream.getVideoTracks()[0]?.getSettings().deviceId !== old, before);
  // The others get the new camera without a new connection.
  const sent = await phone.evaluate(() => window.p2pcall.session.peerConnections.map((pc) => pc.outgoingTrack('video')?.getSettings().deviceId));
  assert.ok(sent.every((id) => id && id !== before), `still sending ${before}: ${sent}`);
});

test('the screen is kept awake during the call', async () => {
  await waitInPage(phone, () => window.p2pcall.screenKeptAwake());
});

test('the page is installable: manifest, icons and a service worker that works offline', async (t) => {
  // Chromium installs nothing from an incognito context (playwright's
  // newContext): a profile of its own.
  const profile = mkdtempSync(path.join(os.tmpdir(), 'p2pcall-install-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_FLAGS, headless: true,
    viewport: { width: 390, height: 844 }, ...PHONE,
  });
  t.after(async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  });
  const page = await context.newPage();
  await page.goto(server.url);
  await waitInPage(page, () => navigator.serviceWorker.controller !== null
    || navigator.serviceWorker.ready.then(() => false));
  await page.reload();
  await waitInPage(page, () => navigator.serviceWorker.controller !== null);
  const cdp = await context.newCDPSession(page);
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  assert.deepEqual(installabilityErrors, []);
  const manifest = await cdp.send('Page.getAppManifest');
  assert.deepEqual(manifest.errors, []);
  const parsed = JSON.parse(manifest.data);
  assert.equal(parsed.display, 'standalone');
  for (const icon of parsed.icons) {
    const response = await page.request.get(new URL(icon.src, manifest.url).href);
    assert.equal(response.status(), 200, icon.src);
    assert.equal(response.headers()['content-type'], icon.type, icon.src);
  }
  // Offline: the page still opens from the cache and says it is offline.
  await context.setOffline(true);
  await page.reload();
  await waitInPage(page, () => !document.querySelector('#offline').hidden);
  assert.equal(await page.getByRole('button', { name: 'Join room' }).isVisible(), true);
  await screenshot(page, 'page-phone-offline');
  // Signalling never goes through the service worker: it is not cached.
  const cachedUrls = await page.evaluate(async () => {
    const urls = [];
    for (const key of await caches.keys()) {
      for (const request of await (await caches.open(key)).keys()) urls.push(new URL(request.url).pathname);
    }
    return urls;
  });
  assert.ok(cachedUrls.includes('/app.js') && !cachedUrls.some((url) => url.startsWith('/ws')), cachedUrls.join(' '));
});
