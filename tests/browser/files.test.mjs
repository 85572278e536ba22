// File transfer between two Chromium pages over the call's data channels:
// a file of several MiB picked in the chat panel arrives whole (SHA-256
// compared with the file sent) after the receiver accepts; a decline, a
// cancel from each side, the size limit on both sides, and a member who
// leaves mid-offer.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  callUrl, launchBrowser, openCall, screenshot, startServer, stopAll, waitConnected, waitInPage,
} from './lib/harness.mjs';
import { receivedFileDigest, transferState, waitTransfer } from './lib/files.mjs';

let server, browser, ann, ben;
const folder = mkdtempSync(path.join(os.tmpdir(), 'p2pcall-files-'));

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  ann = await openCall(browser, callUrl(server, 'files', { name: 'Ann' }));
  await waitInPage(ann, () => window.p2pcall.state.inCall);
  ben = await openCall(browser, callUrl(server, 'files', { name: 'Ben' }));
  await waitConnected(ann, 1);
  await waitConnected(ben, 1);
  await waitInPage(ann, () => window.p2pcall.session.fileRecipients.length === 1);
  await waitInPage(ben, () => window.p2pcall.session.fileRecipients.length === 1);
});

after(async () => {
  for (const page of [ann, ben]) if (page) console.log(page.p2pcallLog.join('\n'));
  await stopAll();
  rmSync(folder, { recursive: true, force: true });
});

// Picks @content as a file named @name in the chat panel's file picker.
function pickFile(page, name, content) {
  const file = path.join(folder, name);
  writeFileSync(file, content);
  return page.locator('#file-input').setInputFiles(file);
}

// Clicks Cancel on @page's transfer of @name as soon as it is in @state
// (with its first bytes through when receiving).
function cancelWhenUnderWay(page, name, state) {
  return page.evaluate(([wanted, underWay]) => {
    const files = window.p2pcall.session.files;
    const onChange = () => {
      const transfer = files.list.find((t) => t.name === wanted);
      if (transfer?.state === underWay && (underWay !== 'receiving' || transfer.bytes > 0)) {
        files.removeEventListener('change', onChange);
        document.querySelector(`.transfer[data-id="${transfer.id}"] .transfer-cancel`).click();
      }
    };
    files.addEventListener('change', onChange);
  }, [name, state]);
}

// The list item of transfer @id.
function item(page, id) {
  return page.locator(`.transfer[data-id="${id}"]`);
}

test('a file of several MiB arrives whole after the receiver accepts', async () => {
  const content = randomBytes(12 * 1024 * 1024 + 12345);
  const sha256 = createHash('sha256').update(content).digest('hex');
  // Every status the receiver shows, to check that progress was shown.
  await ben.evaluate(() => {
    window.seenStatuses = [];
    new MutationObserver(() => {
      for (const el of document.querySelectorAll('.transfer-status')) window.seenStatuses.push(el.textContent);
    }).observe(document.querySelector('#transfers'), { subtree: true, childList: true, characterData: true });
  });
  await pickFile(ann, 'holiday photos.zip', content);
  const offered = await waitTransfer(ben, 'holiday photos.zip', 'offered');
  assert.match(offered.text, /From Ann/);
  assert.match(offered.text, /\(12 MiB\)/);
  assert.match(offered.text, /Ann wants to send you this file/);
  // Nothing flows before the receiver says yes.
  assert.equal((await transferState(ann, 'holiday photos.zip')).state, 'offered');
  assert.equal(await ann.evaluate(() => window.p2pcall.session.files.list[0].bytes), 0);
  await screenshot(ben, 'files-offered');
  await ben.getByRole('button', { name: 'Accept' }).click();
  await waitTransfer(ben, 'holiday photos.zip', 'done');
  const sent = await waitTransfer(ann, 'holiday photos.zip', 'done');
  assert.match(sent.text, /Ben received it/);
  assert.equal(await receivedFileDigest(ben, 'holiday photos.zip'), sha256);
  assert.ok((await ben.evaluate(() => window.seenStatuses)).some((text) => /^\d+% · .* of 12 MiB/.test(text)));
  const save = ben.getByRole('link', { name: 'Save holiday photos.zip' });
  assert.equal(await save.getAttribute('download'), 'holiday photos.zip');
  await screenshot(ben, 'files-received');
});

test('a declined file sends nothing and the sender is told', async () => {
  await pickFile(ann, 'declined.bin', randomBytes(300000));
  const { id } = await waitTransfer(ben, 'declined.bin', 'offered');
  await item(ben, id).getByRole('button', { name: 'Decline' }).click();
  const declined = await waitTransfer(ann, 'declined.bin', 'declined');
  assert.match(declined.text, /Ben declined/);
  assert.equal((await transferState(ben, 'declined.bin')).url, '');
  // A finished transfer can be taken off the list.
  await item(ann, id).getByRole('button', { name: 'Remove from list' }).click();
  assert.equal(await transferState(ann, 'declined.bin'), null);
  assert.equal(await item(ann, id).count(), 0);
});

test('either side can cancel a transfer under way', async () => {
  // The receiver cancels as soon as the first bytes are in.
  await cancelWhenUnderWay(ben, 'receiver-cancels.bin', 'receiving');
  await pickFile(ann, 'receiver-cancels.bin', randomBytes(16 * 1024 * 1024));
  const first = await waitTransfer(ben, 'receiver-cancels.bin', 'offered');
  await item(ben, first.id).getByRole('button', { name: 'Accept' }).click();
  assert.match((await waitTransfer(ann, 'receiver-cancels.bin', 'cancelled')).text, /Ben cancelled/);
  assert.match((await waitTransfer(ben, 'receiver-cancels.bin', 'cancelled')).text, /You cancelled/);

  // The sender cancels as soon as it starts sending.
  await cancelWhenUnderWay(ann, 'sender-cancels.bin', 'sending');
  await pickFile(ann, 'sender-cancels.bin', randomBytes(16 * 1024 * 1024));
  const second = await waitTransfer(ben, 'sender-cancels.bin', 'offered');
  await item(ben, second.id).getByRole('button', { name: 'Accept' }).click();
  assert.match((await waitTransfer(ben, 'sender-cancels.bin', 'cancelled')).text, /Ann cancelled/);
  assert.equal((await transferState(ben, 'sender-cancels.bin')).url, '');
  // The call goes on: a chat message still arrives.
  await ann.getByLabel('Message').fill('still here');
  await ann.keyboard.press('Enter');
  await waitInPage(ben, () => document.querySelector('#chat-log').textContent.includes('Ann: still here'));
});

test('the size limit is explained on both sides', async () => {
  await ann.evaluate(() => { window.p2pcall.session.files.maxBytes = 1000; });
  await pickFile(ann, 'too-big-to-send.bin', randomBytes(2000));
  await waitInPage(ann, () => !document.querySelector('#error').hidden);
  assert.match(await ann.locator('#error').textContent(), /too-big-to-send\.bin is 2\.0 KiB: files up to 1000 B can be sent/);
  await ann.evaluate(() => { window.p2pcall.session.files.maxBytes = 2 * 1024 ** 3; });

  await ben.evaluate(() => { window.p2pcall.session.files.maxBytes = 1000; });
  await pickFile(ann, 'too-big-to-take.bin', randomBytes(2000));
  assert.match((await waitTransfer(ben, 'too-big-to-take.bin', 'declined')).text, /Too big: files up to 1000 B/);
  assert.match((await waitTransfer(ann, 'too-big-to-take.bin', 'declined')).text, /Ben takes files up to 1000 B only/);
  await ben.evaluate(() => { window.p2pcall.session.files.maxBytes = 2 * 1024 ** 3; });
});

test('a member who leaves ends its transfers on the other side', async () => {
  await pickFile(ben, 'left-behind.bin', randomBytes(5000));
  const { id } = await waitTransfer(ann, 'left-behind.bin', 'offered');
  await ben.getByRole('button', { name: 'Leave call' }).click();
  assert.match((await waitTransfer(ann, 'left-behind.bin', 'cancelled')).text, /Ben left the call/);
  assert.equal(await item(ann, id).getByRole('button', { name: 'Accept' }).isVisible(), false);
});
