// Load for a signalling server speaking the original app's protocol: pairs
// of clients in rooms of two, each pair bouncing 1 KiB offers and answers as
// fast as they come back. Measures messages relayed per second and the
// one-way relay latency (send to receipt, one clock), and counts losses.
import WebSocket from 'ws';

const SDP = 'x'.repeat(1024);
const JOIN_TIMEOUT_MS = 20000;

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function connect(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

// Resolves with the first message of @type on @ws; cancel() stops waiting.
function nextMessage(ws, type) {
  let onMessage;
  const promise = new Promise((resolve) => {
    onMessage = (data) => {
      const msg = JSON.parse(data);
      if (msg.type === type) { ws.off('message', onMessage); resolve(msg); }
    };
    ws.on('message', onMessage);
  });
  promise.cancel = () => ws.off('message', onMessage);
  return promise;
}

// Two sockets in room @room. The seed's protocol has no reply to join-room,
// so no timer can tell when the first one is in: both join, and the one that
// is told `user-joined` about the other was first; it becomes `a`.
async function joinPair(url, room) {
  const [x, y] = await Promise.all([connect(url), connect(url)]);
  const xSees = nextMessage(x, 'user-joined');
  const ySees = nextMessage(y, 'user-joined');
  const join = JSON.stringify({ type: 'join-room', roomId: room });
  x.send(join);
  y.send(join);
  let timer;
  const first = await Promise.race([
    xSees.then(() => x),
    ySees.then(() => y),
    new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no user-joined in room ${room}`)), JOIN_TIMEOUT_MS);
    }),
  ]).finally(() => {
    clearTimeout(timer);
    xSees.cancel();
    ySees.cancel();
  });
  return first === x ? { a: x, b: y } : { a: y, b: x };
}

// Opens `connections` sockets joined pairwise into rooms `${roomPrefix}-i`;
// returns the pairs ({a, b}: a was in the room first).
export async function openPairs(url, connections, roomPrefix = 'bench') {
  const pairs = [];
  const batch = 100;
  try {
    for (let start = 0; start < connections / 2; start += batch) {
      const made = [];
      for (let i = start; i < Math.min(connections / 2, start + batch); i++) {
        made.push(joinPair(url, `${roomPrefix}-${i}`));
      }
      for (const result of await Promise.allSettled(made)) {
        if (result.status === 'fulfilled') pairs.push(result.value);
        else throw result.reason;
      }
    }
  } catch (error) {
    closePairs(pairs);
    throw error;
  }
  return pairs;
}

export function closePairs(pairs) {
  for (const { a, b } of pairs) { a.terminate(); b.terminate(); }
}

// Bounces offers/answers in every pair for `seconds`: as fast as they come
// back, or with `intervalMs` one exchange per pair per interval (a steady
// load below saturation, so latency is the relay's and not a queue's).
// Messages in flight when the time is up are waited for (5 s at most);
// what never arrives counts as lost. Returns figures.
export async function bounce(pairs, seconds, { intervalMs = 0 } = {}) {
  const latencies = [];
  let relayed = 0;
  let sent = 0;
  let running = true;
  const done = [];
  const listeners = [];
  for (const { a, b } of pairs) {
    let finish;
    done.push(new Promise((resolve) => { finish = resolve; }));
    const fire = () => {
      if (!running) { finish(); return; }
      sent++;
      const now = performance.now();
      a.send(JSON.stringify({ type: 'offer', offer: { type: 'offer', sdp: SDP }, t: now, t0: now }));
    };
    const onOffer = (data) => {
      const msg = JSON.parse(data);
      if (msg.type !== 'offer') return;
      relayed++;
      latencies.push(performance.now() - msg.t);
      sent++;
      b.send(JSON.stringify({ type: 'answer', answer: { type: 'answer', sdp: SDP }, t: performance.now(), t0: msg.t0 }));
    };
    const onAnswer = (data) => {
      const msg = JSON.parse(data);
      if (msg.type !== 'answer') return;
      relayed++;
      latencies.push(performance.now() - msg.t);
      if (!running) finish();
      else if (intervalMs) setTimeout(fire, Math.max(0, intervalMs - (performance.now() - msg.t0)));
      else fire();
    };
    b.on('message', onOffer);
    a.on('message', onAnswer);
    listeners.push([b, onOffer], [a, onAnswer]);
    // Spread the steady exchanges over the interval instead of in one burst.
    if (intervalMs) setTimeout(fire, Math.random() * intervalMs); else fire();
  }
  const started = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  running = false;
  const elapsed = (performance.now() - started) / 1000;
  const relayedInTime = relayed;
  let timer;
  await Promise.race([
    Promise.all(done),
    new Promise((r) => { timer = setTimeout(r, 5000); }),
  ]);
  clearTimeout(timer);
  for (const [ws, fn] of listeners) ws.off('message', fn);
  latencies.sort((x, y) => x - y);
  return {
    messagesPerSecond: relayedInTime / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    sent,
    relayed,
    lost: sent - relayed,
  };
}
