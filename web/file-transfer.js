// Files sent to members over WebRTC data channels, peer to peer: the
// server never sees a byte of them.
//
// Each transfer is between us and one member ("everyone" is one transfer
// per member). Control messages go over the member's chat channel as JSON
// (docs/page.md "File transfer" describes them):
//   file-offer {id, name, size, mime} -> file-accept {id} | file-decline {id, reason}
//   file-done {id} | file-failed {id, reason} | file-cancel {id, reason}
// On file-accept the sender opens a channel of its own, labelled
// "file:<id>", and sends the file in CHUNK_BYTES binary messages, then one
// text message {type: 'end', sha256}. The receiver hashes what arrives
// (Sha256, piece by piece) and offers the file for saving only when the
// digests agree. Backpressure: the sender stops at HIGH_WATER_BYTES queued
// and goes on at bufferedamountlow (LOW_WATER_BYTES), so a big file never
// piles up in memory nor starves the call's media of the connection.
import { Sha256 } from './sha256.js';

export const FILE_CHANNEL_PREFIX = 'file:';
export const DEFAULT_MAX_FILE_BYTES = 2 * 1024 ** 3;
// 64 KiB goes through between Chromium and Firefox whatever the
// max-message-size each announces.
const CHUNK_BYTES = 64 * 1024;
// Well under 16 MiB queued, where Chromium closes the channel (tried: with
// a 16 MiB high-water mark a 64 MiB transfer failed).
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
const LOW_WATER_BYTES = 1024 * 1024;
// Received chunks are folded into one Blob every so often, so the browser
// can keep a big file in its blob store (on disk) rather than as many
// ArrayBuffers in this page's heap.
const FOLD_BYTES = 16 * 1024 * 1024;
// Progress is shown at most this often; speed is measured over SPEED_WINDOW_MS.
const PROGRESS_INTERVAL_MS = 250;
const SPEED_WINDOW_MS = 3000;

export const FileMessage = Object.freeze({
  OFFER: 'file-offer',
  ACCEPT: 'file-accept',
  DECLINE: 'file-decline',
  DONE: 'file-done',
  FAILED: 'file-failed',
  CANCEL: 'file-cancel',
});

// Transfer states: offered (waiting for the receiver's answer), sending /
// receiving, checking (receiver: last byte in, digest compared), done,
// declined, cancelled, failed.
const FINISHED = new Set(['done', 'declined', 'cancelled', 'failed']);

export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

// A name safe to save under: no path, no control characters.
function safeFileName(name) {
  const base = String(name ?? '').split(/[/\\]/).pop().replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return base.slice(0, 255) || 'file';
}

// @transport: { send(memberKey, message) -> bool, openChannel(memberKey, label) -> RTCDataChannel|null,
//               memberName(memberKey) -> string }
// Events: 'change' (the list or a transfer's progress changed).
export class FileTransfers extends EventTarget {
  maxBytes;
  #transport;
  #transfers = new Map();   // id -> transfer

  constructor(transport, { maxBytes = DEFAULT_MAX_FILE_BYTES } = {}) {
    super();
    this.#transport = transport;
    this.maxBytes = maxBytes;
  }

  // Every transfer, newest last: { id, direction ('out'|'in'), memberKey,
  // peerName, name, size, mime, state, bytes, speed (bytes/s), secondsLeft,
  // error, url (received file, once checked) }.
  get list() {
    return [...this.#transfers.values()].map((t) => ({
      id: t.id, direction: t.direction, memberKey: t.memberKey, peerName: this.#transport.memberName(t.memberKey),
      name: t.name, size: t.size, mime: t.mime, state: t.state, bytes: t.bytes, speed: t.speed,
      secondsLeft: t.speed > 0 ? (t.size - t.bytes) / t.speed : null, error: t.error, url: t.url,
    }));
  }

  // Offers @file to each of @memberKeys. Returns the error text, or '' once offered.
  offer(file, memberKeys) {
    if (file.size > this.maxBytes) {
      return `${file.name} is ${formatBytes(file.size)}: files up to ${formatBytes(this.maxBytes)} can be sent.`;
    }
    if (memberKeys.length === 0) return 'Nobody is in the call to send the file to.';
    for (const memberKey of memberKeys) {
      const transfer = this.#add({
        id: crypto.randomUUID(), direction: 'out', memberKey, file,
        name: safeFileName(file.name), size: file.size, mime: file.type || 'application/octet-stream',
      });
      const sent = this.#transport.send(memberKey, {
        type: FileMessage.OFFER, id: transfer.id, name: transfer.name, size: transfer.size, mime: transfer.mime,
      });
      if (!sent) this.#finish(transfer, 'failed', 'The member is not connected yet.');
    }
    return '';
  }

  accept(id) {
    const transfer = this.#transfers.get(id);
    if (transfer?.direction !== 'in' || transfer.state !== 'offered') return;
    transfer.state = 'receiving';
    transfer.hash = new Sha256();
    transfer.started = performance.now();
    this.#transport.send(transfer.memberKey, { type: FileMessage.ACCEPT, id });
    this.#changed();
  }

  decline(id) {
    const transfer = this.#transfers.get(id);
    if (transfer?.direction !== 'in' || transfer.state !== 'offered') return;
    this.#transport.send(transfer.memberKey, { type: FileMessage.DECLINE, id, reason: 'declined' });
    this.#finish(transfer, 'declined', 'You declined.');
  }

  cancel(id) {
    const transfer = this.#transfers.get(id);
    if (!transfer || FINISHED.has(transfer.state)) return;
    this.#transport.send(transfer.memberKey, { type: FileMessage.CANCEL, id });
    this.#finish(transfer, 'cancelled', 'You cancelled.');
  }

  // Takes a finished transfer off the list (and frees its received file).
  dismiss(id) {
    const transfer = this.#transfers.get(id);
    if (!transfer || !FINISHED.has(transfer.state)) return;
    if (transfer.url) URL.revokeObjectURL(transfer.url);
    this.#transfers.delete(id);
    this.#changed();
  }

  // A message of FileMessage's types from @memberKey's chat channel.
  handleMessage(memberKey, message) {
    if (typeof message?.id !== 'string') return;
    const transfer = this.#transfers.get(message.id);
    if (message.type === FileMessage.OFFER) {
      if (!transfer) this.#offered(memberKey, message);
      return;
    }
    // Only the member a transfer is with has a say in it.
    if (!transfer || transfer.memberKey !== memberKey || FINISHED.has(transfer.state)) return;
    const peer = this.#transport.memberName(memberKey);
    switch (message.type) {
      case FileMessage.ACCEPT:
        if (transfer.direction === 'out' && transfer.state === 'offered') this.#send(transfer);
        break;
      case FileMessage.DECLINE:
        this.#finish(transfer, 'declined', message.reason === 'too-big'
          ? `${peer} takes files up to ${formatBytes(Number(message.limit) || 0)} only.`
          : `${peer} declined.`);
        break;
      case FileMessage.CANCEL:
        this.#finish(transfer, 'cancelled', `${peer} cancelled.`);
        break;
      case FileMessage.DONE:
        if (transfer.direction === 'out') this.#finish(transfer, 'done', '');
        break;
      case FileMessage.FAILED:
        this.#finish(transfer, 'failed', `${peer} could not receive it: ${String(message.reason ?? 'unknown error')}.`);
        break;
      default:
        break;
    }
  }

  // A data channel @memberKey opened to us with a FILE_CHANNEL_PREFIX label.
  handleChannel(memberKey, channel) {
    const transfer = this.#transfers.get(channel.label.slice(FILE_CHANNEL_PREFIX.length));
    if (transfer?.direction !== 'in' || transfer.memberKey !== memberKey || transfer.state !== 'receiving') {
      channel.close();
      return;
    }
    transfer.channel = channel;
    channel.binaryType = 'arraybuffer';
    channel.onmessage = ({ data }) => this.#received(transfer, data);
    channel.onclose = () => {
      if (!FINISHED.has(transfer.state) && transfer.state !== 'checking') {
        this.#finish(transfer, 'failed', 'The connection closed before the whole file arrived.');
      }
    };
  }

  // @memberKey left the call: its transfers end.
  memberLeft(memberKey, name) {
    for (const transfer of this.#transfers.values()) {
      if (transfer.memberKey === memberKey && !FINISHED.has(transfer.state)) {
        this.#finish(transfer, 'cancelled', `${name} left the call.`);
      }
    }
  }

  #offered(memberKey, message) {
    const size = Number(message.size);
    if (!Number.isSafeInteger(size) || size < 0) return;
    const transfer = this.#add({
      id: message.id, direction: 'in', memberKey, name: safeFileName(message.name), size,
      mime: typeof message.mime === 'string' ? message.mime : 'application/octet-stream',
    });
    if (size > this.maxBytes) {
      this.#transport.send(memberKey, { type: FileMessage.DECLINE, id: transfer.id, reason: 'too-big', limit: this.maxBytes });
      this.#finish(transfer, 'declined', `Too big: files up to ${formatBytes(this.maxBytes)} can be received.`);
    }
  }

  #add(fields) {
    const transfer = {
      state: 'offered', bytes: 0, speed: 0, error: '', url: '', channel: null, hash: null,
      chunks: [], chunkBytes: 0, blob: null, samples: [], shownAt: 0, ...fields,
    };
    this.#transfers.set(transfer.id, transfer);
    this.#changed();
    return transfer;
  }

  async #send(transfer) {
    const channel = this.#transport.openChannel(transfer.memberKey, FILE_CHANNEL_PREFIX + transfer.id);
    if (!channel) {
      this.#finish(transfer, 'failed', 'The connection to the member is gone.');
      return;
    }
    transfer.state = 'sending';
    transfer.channel = channel;
    transfer.started = performance.now();
    channel.binaryType = 'arraybuffer';
    channel.bufferedAmountLowThreshold = LOW_WATER_BYTES;
    this.#changed();
    try {
      await waitOpen(channel);
      const hash = new Sha256();
      for (let offset = 0; offset < transfer.size; offset += CHUNK_BYTES) {
        if (transfer.state !== 'sending') return;
        const chunk = await transfer.file.slice(offset, offset + CHUNK_BYTES).arrayBuffer();
        hash.update(chunk);
        if (channel.bufferedAmount > HIGH_WATER_BYTES) await waitDrained(channel);
        if (transfer.state !== 'sending') return;
        channel.send(chunk);
        // What went out of the buffer counts as sent.
        this.#progress(transfer, offset + chunk.byteLength - channel.bufferedAmount);
      }
      channel.send(JSON.stringify({ type: 'end', sha256: hash.hex() }));
      // The receiver's file-done (or file-failed) finishes it.
      while (transfer.state === 'sending' && channel.bufferedAmount > 0) await waitDrained(channel, 0);
      this.#progress(transfer, transfer.size, true);
    } catch (error) {
      if (transfer.state === 'sending') {
        this.#transport.send(transfer.memberKey, { type: FileMessage.CANCEL, id: transfer.id });
        this.#finish(transfer, 'failed', `Sending stopped: ${error.message}`);
      }
    }
  }

  #received(transfer, data) {
    if (transfer.state !== 'receiving') return;
    if (typeof data === 'string') {
      this.#checked(transfer, data);
      return;
    }
    if (transfer.bytes + data.byteLength > transfer.size) {
      this.#transport.send(transfer.memberKey, { type: FileMessage.FAILED, id: transfer.id, reason: 'more data than offered' });
      this.#finish(transfer, 'failed', 'More data arrived than was offered.');
      return;
    }
    transfer.hash.update(data);
    transfer.chunks.push(data);
    transfer.chunkBytes += data.byteLength;
    if (transfer.chunkBytes >= FOLD_BYTES) this.#fold(transfer);
    this.#progress(transfer, transfer.bytes + data.byteLength);
  }

  #fold(transfer) {
    transfer.blob = new Blob(transfer.blob ? [transfer.blob, ...transfer.chunks] : transfer.chunks);
    transfer.chunks = [];
    transfer.chunkBytes = 0;
  }

  #checked(transfer, text) {
    let end;
    try {
      end = JSON.parse(text);
    } catch {
      end = null;
    }
    if (end?.type !== 'end') return;
    transfer.state = 'checking';
    const digest = transfer.hash.hex();
    if (transfer.bytes !== transfer.size || digest !== end.sha256) {
      const reason = transfer.bytes !== transfer.size
        ? `${formatBytes(transfer.bytes)} of ${formatBytes(transfer.size)} arrived`
        : 'its SHA-256 checksum does not match';
      this.#transport.send(transfer.memberKey, { type: FileMessage.FAILED, id: transfer.id, reason });
      this.#finish(transfer, 'failed', `The file arrived damaged (${reason}); it was not kept.`);
      return;
    }
    this.#fold(transfer);
    transfer.sha256 = digest;
    transfer.url = URL.createObjectURL(new Blob([transfer.blob], { type: transfer.mime }));
    transfer.blob = null;
    this.#transport.send(transfer.memberKey, { type: FileMessage.DONE, id: transfer.id });
    this.#finish(transfer, 'done', '');
  }

  #progress(transfer, bytes, force = false) {
    transfer.bytes = Math.max(transfer.bytes, bytes);
    const now = performance.now();
    transfer.samples.push([now, transfer.bytes]);
    while (transfer.samples.length > 2 && now - transfer.samples[0][0] > SPEED_WINDOW_MS) transfer.samples.shift();
    const [since, bytesThen] = transfer.samples[0];
    if (now > since) transfer.speed = ((transfer.bytes - bytesThen) * 1000) / (now - since);
    if (force || now - transfer.shownAt >= PROGRESS_INTERVAL_MS) {
      transfer.shownAt = now;
      this.#changed();
    }
  }

  #finish(transfer, state, error) {
    transfer.state = state;
    transfer.error = error;
    transfer.chunks = [];
    transfer.blob = null;
    transfer.file = null;
    if (state !== 'done') transfer.hash = null;
    // The sender closes the file's channel (after the receiver said done, so
    // nothing in flight is cut); a receiver that ends early has told it over
    // the chat channel and just stops listening.
    if (transfer.direction === 'out') transfer.channel?.close();
    else if (transfer.channel) transfer.channel.onmessage = null;
    transfer.channel = null;
    this.#changed();
  }

  #changed() {
    this.dispatchEvent(new Event('change'));
  }
}

function waitOpen(channel) {
  if (channel.readyState === 'open') return Promise.resolve();
  return new Promise((resolve, reject) => {
    channel.addEventListener('open', () => resolve(), { once: true });
    channel.addEventListener('close', () => reject(new Error('the channel closed before it opened')), { once: true });
  });
}

// Resolves once the channel's queue is down to its low-water mark (or to
// @threshold), or rejects if it closes.
function waitDrained(channel, threshold = channel.bufferedAmountLowThreshold) {
  if (channel.bufferedAmount <= threshold) return Promise.resolve();
  if (channel.readyState !== 'open') return Promise.reject(new Error('the connection closed'));
  return new Promise((resolve, reject) => {
    const done = () => {
      channel.removeEventListener('bufferedamountlow', low);
      channel.removeEventListener('close', closed);
      clearInterval(poll);
    };
    const low = () => { done(); resolve(); };
    const closed = () => { done(); reject(new Error('the connection closed')); };
    // bufferedamountlow fires when crossing the threshold; below it (the
    // wait for an empty queue) a poll notices.
    const poll = setInterval(() => { if (channel.bufferedAmount <= threshold) low(); }, 100);
    channel.addEventListener('bufferedamountlow', low);
    channel.addEventListener('close', closed);
  });
}
