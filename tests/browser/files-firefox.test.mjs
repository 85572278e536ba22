// File transfer between Chromium and Firefox ESR, both ways: a file of
// several MiB dropped on the chat panel arrives whole (SHA-256 of the file
// saved compared with the file sent), and a decline. Runs with a test host
// (netns-run.sh --test-host): Firefox gathers nothing on loopback.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  callUrl, launchBrowser, launchFirefox, openCall, screenshot, startServer, stopAll, waitConnected, waitInPage,
} from './lib/harness.mjs';
import { dropFile, receivedFileDigest, waitTransfer } from './lib/files.mjs';

let server, chromium, firefox, crow, fox;

before(async () => {
  server = await startServer();
  [chromium, firefox] = await Promise.all([launchBrowser(), launchFirefox()]);
  crow = await openCall(chromium, callUrl(server, 'burrow', { name: 'Crow' }));
  await waitInPage(crow, () => window.p2pcall.state.inCall);
  fox = await openCall(firefox, callUrl(server, 'burrow', { name: 'Fox' }));
  await waitConnected(crow, 1);
  await waitConnected(fox, 1);
  await waitInPage(crow, () => window.p2pcall.session.fileRecipients.length === 1);
  await waitInPage(fox, () => window.p2pcall.session.fileRecipients.length === 1);
});

after(async () => {
  for (const page of [crow, fox]) if (page) console.log(page.p2pcallLog.join('\n'));
  await stopAll();
});

// Accepts the offered transfer @id on @page with a click on its button.
function accept(page, id) {
  return page.click(`.transfer[data-id="${id}"] .transfer-accept`);
}

for (const [from, to, fromName, toName] of [['crow', 'fox', 'Crow', 'Fox'], ['fox', 'crow', 'Fox', 'Crow']]) {
  test(`${fromName} sends ${toName} a file of several MiB, which arrives whole`, async () => {
    const pages = { crow, fox };
    const name = `from-${fromName}.bin`;
    const sha256 = await dropFile(pages[from], name, 6 * 1024 * 1024 + 777);
    const offered = await waitTransfer(pages[to], name, 'offered');
    assert.match(offered.text, new RegExp(`From ${fromName}`));
    await accept(pages[to], offered.id);
    await waitTransfer(pages[to], name, 'done');
    assert.match((await waitTransfer(pages[from], name, 'done')).text, new RegExp(`${toName} received it`));
    assert.equal(await receivedFileDigest(pages[to], name), sha256);
    await screenshot(pages[to], `files-${from}-to-${to}`);
  });
}

test('Firefox declines a file from Chromium', async () => {
  await dropFile(crow, 'unwanted.bin', 100000);
  const { id } = await waitTransfer(fox, 'unwanted.bin', 'offered');
  await fox.click(`.transfer[data-id="${id}"] .transfer-decline`);
  assert.match((await waitTransfer(crow, 'unwanted.bin', 'declined')).text, /Fox declined/);
});
