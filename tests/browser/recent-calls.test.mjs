// "Recent calls" on the join screen, from the browser's own storage: a call
// left is listed with its room, when, how long and with whom; one click
// rejoins it; the list survives a reload; a button clears it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  callUrl, launchBrowser, openCall, screenshot, startServer, stopAll, waitConnected, waitInPage,
} from './lib/harness.mjs';

let server, browser, ann, ben;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  for (const page of [ann, ben]) if (page) console.log(page.p2pcallLog.join('\n'));
  await stopAll();
});

test('a call left is listed, rejoined with one click, kept over a reload and cleared', async () => {
  ann = await openCall(browser, server.url);
  assert.equal(await ann.locator('#recent-calls').isVisible(), false);
  await ann.getByLabel('Room ID').fill('reunion');
  await ann.getByLabel('Your name (optional)').fill('Ann');
  await ann.getByRole('button', { name: 'Join room' }).click();
  ben = await openCall(browser, callUrl(server, 'reunion', { name: 'Ben' }));
  await waitConnected(ann, 1);
  await waitInPage(ann, () => document.querySelector('.tile.remote .tile-name')?.textContent === 'Ben');
  await ann.getByRole('button', { name: 'Leave call' }).click();

  const entry = ann.getByRole('button', { name: /^Rejoin reunion:/ });
  await entry.waitFor();
  assert.match(await entry.textContent(), /reunion.*\d+ s · with Ben/);
  await screenshot(ann, 'recent-calls');

  await entry.click();
  await waitConnected(ann, 1);
  assert.equal(await ann.evaluate(() => window.p2pcall.state.roomId), 'reunion');
  await ann.getByRole('button', { name: 'Leave call' }).click();
  await waitInPage(ann, () => document.querySelectorAll('#recent-list li').length === 2);

  await ann.reload();
  await waitInPage(ann, () => document.querySelectorAll('#recent-list li').length === 2);
  await ann.getByRole('button', { name: 'Clear recent calls' }).click();
  assert.equal(await ann.locator('#recent-calls').isVisible(), false);
  assert.equal(await ann.evaluate(() => localStorage.getItem('p2pcall.recentCalls')), null);
  await ann.reload();
  await waitInPage(ann, () => document.readyState === 'complete');
  assert.equal(await ann.locator('#recent-calls').isVisible(), false);
});
