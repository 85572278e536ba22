// The WebSocket to p2pcall-server: connects, reconnects with backoff and
// rejoins the room it was in. It knows the transport, not the call.
import { buildJoin, buildLeave, JOIN_REFUSALS, MessageType } from './protocol.js';

const FIRST_RETRY_MS = 300;
const MAX_RETRY_MS = 4000;

export const SignallingStatus = Object.freeze({
  IDLE: 'idle',
  CONNECTING: 'connecting',
  CONNECTED: 'connected',
  RECONNECTING: 'reconnecting',
});

export function signallingUrl(location) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

// Events: 'status' (detail: SignallingStatus), 'message' (detail: the parsed object).
export class SignallingClient extends EventTarget {
  #url;
  #socket = null;
  #join = null;          // the join-room message to send on every (re)connection
  #retries = 0;
  #retryTimer = null;
  #status = SignallingStatus.IDLE;

  constructor(url) {
    super();
    this.#url = url;
  }

  get status() { return this.#status; }

  join(roomId, name, token) {
    this.#join = buildJoin(roomId, name, token);
    if (this.#socket?.readyState === WebSocket.OPEN) this.send(this.#join);
    else if (!this.#socket) this.#connect();
  }

  leave() {
    if (this.#join && this.#socket?.readyState === WebSocket.OPEN) this.send(buildLeave());
    this.#join = null;
  }

  send(msg) {
    if (this.#socket?.readyState !== WebSocket.OPEN) return false;
    this.#socket.send(JSON.stringify(msg));
    return true;
  }

  close() {
    this.#join = null;
    clearTimeout(this.#retryTimer);
    const socket = this.#socket;
    this.#socket = null;
    socket?.close(1000);
    this.#setStatus(SignallingStatus.IDLE);
  }

  #connect() {
    this.#setStatus(this.#retries ? SignallingStatus.RECONNECTING : SignallingStatus.CONNECTING);
    const socket = new WebSocket(this.#url);
    this.#socket = socket;
    socket.onopen = () => {
      this.#retries = 0;
      this.#setStatus(SignallingStatus.CONNECTED);
      if (this.#join) this.send(this.#join);
    };
    socket.onmessage = (event) => this.#receive(event.data);
    socket.onclose = () => {
      if (this.#socket !== socket) return;   // closed on purpose
      this.#socket = null;
      this.#retries += 1;
      this.#setStatus(SignallingStatus.RECONNECTING);
      // Exponential backoff with jitter so a restarted server is not hit by
      // every page in the same instant.
      const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (this.#retries - 1));
      this.#retryTimer = setTimeout(() => this.#connect(), delay * (0.75 + Math.random() / 2));
    };
  }

  #receive(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (!msg || typeof msg.type !== 'string') return;
    // A refused join would be refused again on every reconnection.
    if (msg.type === MessageType.ERROR && msg.inReplyTo === MessageType.JOIN_ROOM &&
        JOIN_REFUSALS.has(msg.code)) {
      this.#join = null;
    }
    this.dispatchEvent(new CustomEvent('message', { detail: msg }));
  }

  #setStatus(status) {
    if (status === this.#status) return;
    this.#status = status;
    this.dispatchEvent(new CustomEvent('status', { detail: status }));
  }
}
