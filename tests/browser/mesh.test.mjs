// Three Chromium pages form a full mesh (the third joins the seed's way:
// type a room, press Join); a fourth is refused because the room is full;
// one leaves and the others drop its tile. Also: a bad room name is
// explained in plain words.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  callUrl, launchBrowser, openCall, remoteTiles, screenshot, startServer, stopAll,
  waitConnected, waitFramesDecoded, waitInPage, waitRemoteTiles,
} from './lib/harness.mjs';

let server, browser;
const pages = [];

before(async () => {
  server = await startServer({ args: ['--max-room-size', '3'] });
  browser = await launchBrowser();
});

after(async () => {
  for (const page of pages) console.log(page.p2pcallLog.join('\n'));
  await stopAll();
});

test('three pages form a full mesh', async () => {
  pages.push(await openCall(browser, callUrl(server, 'trio', { name: 'Ann' })));
  pages.push(await openCall(browser, callUrl(server, 'trio', { name: 'Ben' }), { viewport: { width: 390, height: 844 } }));
  // The seed's flow: an empty page, a room typed in, Join pressed.
  const cat = await openCall(browser, server.url);
  pages.push(cat);
  assert.equal(await cat.locator('#call').isVisible(), false);
  await cat.getByLabel('Room ID').fill('trio');
  await cat.getByLabel('Your name (optional)').fill('Cat');
  await cat.getByRole('button', { name: 'Join room' }).click();

  for (const page of pages) {
    await waitConnected(page, 2);
    await waitRemoteTiles(page, 2);
    await waitFramesDecoded(page);
  }
  await waitInPage(cat, () => [...document.querySelectorAll('.tile.remote video')].every((v) => v.videoWidth > 0));
  const names = (await remoteTiles(cat)).map((tile) => tile.name).sort();
  assert.deepEqual(names, ['Ann', 'Ben']);
  assert.equal(await cat.evaluate(() => new URLSearchParams(location.search).get('room')), 'trio');
  await waitInPage(pages[1], () => document.querySelectorAll('.tile.remote video').length === 2
    && [...document.querySelectorAll('.tile.remote video')].every((v) => v.videoWidth > 0));
  await screenshot(pages[1], 'mesh-phone');
  await screenshot(pages[0], 'mesh-desktop');
});

test('a fourth page is told in plain words that the room is full', async () => {
  const dan = await openCall(browser, callUrl(server, 'trio', { name: 'Dan' }));
  await waitInPage(dan, () => !document.querySelector('#error').hidden);
  assert.match(await dan.locator('#error').textContent(), /room is full/);
  assert.equal(await dan.locator('#join-form').isVisible(), true);
  await screenshot(dan, 'room-full-desktop');
  await dan.context().close();
  for (const page of pages) assert.equal((await remoteTiles(page)).length, 2);
});

test('a bad room name is explained in plain words', async () => {
  const eve = await openCall(browser, server.url, { viewport: { width: 390, height: 844 } });
  await eve.getByLabel('Room ID').fill('no spaces allowed!');
  await eve.getByRole('button', { name: 'Join room' }).click();
  await waitInPage(eve, () => !document.querySelector('#error').hidden);
  assert.match(await eve.locator('#error').textContent(), /room name cannot be used/);
  await screenshot(eve, 'bad-room-phone');
  await eve.context().close();
});

test('when one leaves the others drop its tile and keep their call', async () => {
  const [ann, ben, cat] = pages;
  // Ann's page reads Cat's statistics when Cat leaves: the reading is held
  // until Cat's tile is gone, and must not bring the tile back when it ends.
  const catId = await cat.evaluate(() => window.p2pcall.state.ownId);
  await ann.evaluate((id) => {
    const pc = window.p2pcall.session.peerConnections.find((c) => c.remoteId === id);
    const read = pc.getStats.bind(pc);
    window.statsGate = new Promise((resolve) => { window.openStatsGate = resolve; });
    window.statsHeld = 0;
    window.statsDone = 0;
    pc.getStats = async () => {
      window.statsHeld += 1;
      const report = await read();
      await window.statsGate;
      window.statsDone += 1;
      return report;
    };
  }, catId);
  await waitInPage(ann, () => window.statsHeld > 0);
  await cat.getByRole('button', { name: 'Leave call' }).click();
  await waitInPage(cat, () => !document.querySelector('#join-form').hidden);
  await waitRemoteTiles(ann, 1);
  await ann.evaluate(() => window.openStatsGate());
  await waitInPage(ann, () => window.statsDone === window.statsHeld);
  assert.deepEqual((await remoteTiles(ann)).map((tile) => tile.name), ['Ben'], 'Cat\'s tile stays gone');
  for (const page of [ann, ben]) {
    await waitRemoteTiles(page, 1);
    await waitConnected(page, 1);
  }
  assert.deepEqual((await remoteTiles(ann)).map((tile) => tile.name), ['Ben']);
  assert.deepEqual((await remoteTiles(ben)).map((tile) => tile.name), ['Ann']);
  assert.equal(await cat.evaluate(() => window.p2pcall.session.peerConnections.length), 0);
});
