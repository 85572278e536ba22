// Load for a signalling server speaking the original app's protocol: pairs
// of clients in rooms of two, each pair bouncing 1 KiB offers and answers as
// fast as they come back. Measures messages relayed per second and the
// one-way relay latency (send to receipt, one clock), and counts losses.
import WebSocket from 'ws';

const SDP = 'x'.repeat(1024);

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

function waitFor(ws, type) {
  return new Promise((resolve) => {
    const onMessage = (data) => {
      const msg = JSON.parse(data);
      if (msg.type === type) { ws.off('message', onMessage); resolve(msg); }
    };
    ws.on('message', onMessage);
  });
}

// Opens `connections` sockets joined pairwise into rooms; returns the pairs.
export async function openPairs(url, connections, roomPrefix = 'bench') {
  const pairs = [];
  const batch = 100;
  for (let start = 0; start < connections / 2; start += batch) {
    const made = [];
    for (let i = start; i < Math.min(connections / 2, start + batch); i++) {
      made.push((async () => {
        const room = `${roomPrefix}-${i}`;
        // `a` is in the room before `b` joins, so `a` always hears of `b`:
        // under load the server may read two sockets in either order.
        const a = await connect(url);
        const aJoined = waitFor(a, 'joined');
        a.send(JSON.stringify({ type: 'join-room', roomId: room }));
        await aJoined;
        const userJoined = waitFor(a, 'user-joined');
        const b = await connect(url);
        const bJoined = waitFor(b, 'joined');
        b.send(JSON.stringify({ type: 'join-room', roomId: room }));
        await Promise.all([userJoined, bJoined]);
        return { a, b };
      })());
    }
    pairs.push(...await Promise.all(made));
  }
  return pairs;
}

export function closePairs(pairs) {
  for (const { a, b } of pairs) { a.terminate(); b.terminate(); }
}

// Bounces offers/answers in every pair for `seconds`: as fast as they come
// back, or with `intervalMs` one exchange per pair per interval (a steady
// load below saturation, so latency is the relay's and not a queue's).
// Returns figures.
export async function bounce(pairs, seconds, { intervalMs = 0 } = {}) {
  const latencies = [];
  let relayed = 0;
  let sent = 0;
  let running = true;
  const done = [];
  for (const { a, b } of pairs) {
    let finish;
    done.push(new Promise((resolve) => { finish = resolve; }));
    const fire = () => {
      if (!running) { finish(); return; }
      sent++;
      const now = performance.now();
      a.send(JSON.stringify({ type: 'offer', offer: { type: 'offer', sdp: SDP }, t: now, t0: now }));
    };
    b.on('message', (data) => {
      const msg = JSON.parse(data);
      if (msg.type !== 'offer') return;
      relayed++;
      latencies.push(performance.now() - msg.t);
      sent++;
      b.send(JSON.stringify({ type: 'answer', answer: { type: 'answer', sdp: SDP }, t: performance.now(), t0: msg.t0 }));
    });
    a.on('message', (data) => {
      const msg = JSON.parse(data);
      if (msg.type !== 'answer') return;
      relayed++;
      latencies.push(performance.now() - msg.t);
      if (!running) finish();
      else if (intervalMs) setTimeout(fire, Math.max(0, intervalMs - (performance.now() - msg.t0)));
      else fire();
    });
    // Spread the steady exchanges over the interval instead of in one burst.
    if (intervalMs) setTimeout(fire, Math.random() * intervalMs); else fire();
  }
  const started = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  running = false;
  // Every message in flight must still arrive.
  const drained = await Promise.race([
    Promise.all(done).then(() => true),
    new Promise((r) => setTimeout(() => r(false), 5000)),
  ]);
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((x, y) => x - y);
  return {
    messagesPerSecond: relayed / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    sent,
    relayed,
    lost: drained ? sent - relayed : sent - relayed,
  };
}
