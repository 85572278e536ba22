// File-transfer helpers for the page tests: a transfer as the page shows
// it, found by file name, in Chromium (playwright) or Firefox (puppeteer).
import { waitInPage } from './harness.mjs';

// { id, state, text, url } of the newest transfer of @name in @page's list.
export function transferState(page, name) {
  return page.evaluate((wanted) => {
    const transfer = window.p2pcall.session.files.list.filter((t) => t.name === wanted).pop();
    const item = transfer && document.querySelector(`.transfer[data-id="${transfer.id}"]`);
    return transfer ? { id: transfer.id, state: transfer.state, text: item?.textContent ?? '', url: transfer.url } : null;
  }, name);
}

// Waits until the transfer of @name is in @state on @page (and shown so).
export async function waitTransfer(page, name, state, timeout = 60000) {
  await waitInPage(page, ([wanted, s]) => {
    const transfer = window.p2pcall.session.files.list.filter((t) => t.name === wanted).pop();
    return transfer?.state === s && document.querySelector(`.transfer[data-id="${transfer.id}"]`)?.dataset.state === s;
  }, [name, state], timeout);
  return transferState(page, name);
}

// SHA-256 (hex) of the file @page received as @name, read back from what
// the page offers for saving.
export function receivedFileDigest(page, name) {
  return page.evaluate(async (wanted) => {
    const transfer = window.p2pcall.session.files.list.filter((t) => t.name === wanted).pop();
    const bytes = await (await fetch(transfer.url)).arrayBuffer();
    const digest = await crypto.subtle.digest('SHA-256', bytes);
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  }, name);
}

// Drops a file of @size random bytes named @name on @page's chat panel, as
// a person dragging it there would; resolves the file's SHA-256 (hex).
export function dropFile(page, name, size) {
  return page.evaluate(async ([fileName, bytes]) => {
    const content = new Uint8Array(bytes);
    for (let offset = 0; offset < bytes; offset += 65536) {
      crypto.getRandomValues(content.subarray(offset, offset + 65536));
    }
    const transfer = new DataTransfer();
    transfer.items.add(new File([content], fileName, { type: 'application/octet-stream' }));
    document.querySelector('#chat-panel').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    const digest = await crypto.subtle.digest('SHA-256', content);
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  }, [name, size]);
}
