// p2pcallsink congestion-control=adaptive with browsers as receivers: one
// page forced to relay through a coturn whose max-bps caps each session
// (a genuinely narrow link), one page on direct host candidates. Each gets
// what its own link carries. And a page behind a lossy link gets what it
// lost sent again. Registered from tests/gst/meson.build (it needs the
// plugin's build directory).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, afterEach, test } from 'node:test';
import { callUrl, pagesPerTest, screenshot, startServer, waitInPage } from './lib/harness.mjs';
import { startCoturn } from './lib/coturn.mjs';
import { launch, stopPipelines, waitOutput } from './lib/gst-launch.mjs';

const TURN_SECRET = 'adaptive-shared-secret';
const CAP_BYTES_PER_SECOND = 40000;       // about 320 kbit/s
const LADDER_SIZE = 3;
const CONVERGE_MS = 25000;                // generous: find the cap, then hold
const SETTLE_MS = 12000;                  // after the sender last saw heavy loss
const CONVERGE_MAX_MS = 60000;
const WINDOW_MS = 10000;
// Each test's pages close (printing their logs), then its pipelines and
// what it started stop.
const { openPage, cleanups } = pagesPerTest({ afterEach, after }, stopPipelines);

// What a user of @page saw of the video of the member named @name over
// @ms: frames decoded per second, the longest time without a new frame,
// bytes received (kbit/s) and the picture's width. Sampled in the page every
// 100 ms from that connection's inbound video.
function watchVideo(page, name, ms) {
  return page.evaluate(async ({ n, duration }) => {
    const member = [...window.p2pcall.state.members.values()].find((m) => m.name === n);
    const pc = window.p2pcall.session.peerConnections.find((c) => c.remoteId === member?.peerId);
    const read = async () => {
      for (const stat of (await pc.getStats()).values()) {
        if (stat.type === 'inbound-rtp' && stat.kind === 'video') {
          return { at: performance.now(), frames: stat.framesDecoded ?? 0,
            bytes: stat.bytesReceived ?? 0, width: stat.frameWidth ?? 0,
            lost: stat.packetsLost ?? 0, nacks: stat.nackCount ?? 0, plis: stat.pliCount ?? 0,
            packets: stat.packetsReceived ?? 0, rtx: stat.retransmittedPacketsReceived ?? 0 };
        }
      }
      return { at: performance.now(), frames: 0, bytes: 0, width: 0, lost: 0, nacks: 0, plis: 0, packets: 0, rtx: 0 };
    };
    const first = await read();
    let last = first, lastNewFrame = first.at, longestGap = 0;
    while (performance.now() - first.at < duration) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const now = await read();
      if (now.frames > last.frames) lastNewFrame = now.at;
      longestGap = Math.max(longestGap, now.at - lastNewFrame);
      last = now;
    }
    const seconds = (last.at - first.at) / 1000;
    return { fps: (last.frames - first.frames) / seconds, longestGapS: longestGap / 1000,
      kbps: (last.bytes - first.bytes) * 8 / seconds / 1000, width: last.width,
      // Over the window: what a user does not see, for diagnosis.
      packets: last.packets - first.packets, lost: last.lost - first.lost,
      nacks: last.nacks - first.nacks, plis: last.plis - first.plis, rtx: last.rtx - first.rtx };
  }, { n: name, duration: ms });
}

// Waits until the estimate has found the capped link: the sender reported
// a peer losing more than 3 % (a loss-based estimate finds a link's limit
// by reaching it, which costs its viewer a moment of broken picture; holding
// under it afterwards is what is measured), SETTLE_MS have passed since the
// last such report, and at least CONVERGE_MS in all; at most
// CONVERGE_MAX_MS (an estimate that never reached the cap).
async function converged(sender) {
  const start = Date.now();
  let lossy = 0, lastLoss = start;
  for (;;) {
    const now = Date.now();
    const count = [...sender.output.matchAll(/p2pcall-peer-bitrate,.*fraction-lost=\(double\)([0-9.e-]+)/g)]
      .filter(([, loss]) => Number(loss) > 0.03).length;
    if (count > lossy) [lossy, lastLoss] = [count, now];
    if ((lossy > 0 && now - start >= CONVERGE_MS && now - lastLoss >= SETTLE_MS)
      || now - start >= CONVERGE_MAX_MS) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

test('an adaptive p2pcallsink sends a capped page and a direct page what each link carries', async () => {
  const turn = await startCoturn(TURN_SECRET, { maxBps: CAP_BYTES_PER_SECOND });
  cleanups.push(turn.stop);
  const server = await startServer({
    args: ['--turn-server', turn.url, '--turn-secret', TURN_SECRET, '--turn-ttl', '1h'],
  });
  const sender = launch('videotestsrc is-live=true pattern=smpte horizontal-speed=4 ! '
    + 'video/x-raw,width=640,height=480,framerate=30/1 ! p2pcallsink peer-name=sender '
    + `congestion-control=adaptive ladder-size=${LADDER_SIZE} room=adaptive `
    + `server=ws://127.0.0.1:${server.port}/ws`);
  await waitOutput(sender, /p2pcall-joined/);

  // (The pages also call each other: each connection has its own relay
  // session, capped on its own.)
  const capped = await openPage(callUrl(server, 'adaptive', { name: 'Capped', relay: '1' }));
  const direct = await openPage(callUrl(server, 'adaptive', { name: 'Direct' }));
  for (const page of [capped, direct]) {
    await waitInPage(page, () => [...window.p2pcall.state.members.values()]
      .some((m) => m.name === 'sender' && m.health?.framesDecoded > 0), undefined, 30000);
  }

  await converged(sender);
  const [c, d] = await Promise.all([watchVideo(capped, 'sender', WINDOW_MS),
    watchVideo(direct, 'sender', WINDOW_MS)]);
  console.log(`capped: ${JSON.stringify(c)}\ndirect: ${JSON.stringify(d)}`);
  console.log((sender.output.match(/p2pcall-peer-bitrate.*/g) ?? []).slice(-40).join('\n'));

  // The capped page keeps a moving picture within its link, without
  // freezes; the direct one gets the full picture.
  assert.ok(c.fps >= 10, `capped page decodes ${c.fps.toFixed(1)} fps`);
  assert.ok(c.longestGapS <= 1, `the capped page froze for ${c.longestGapS.toFixed(2)} s`);
  assert.ok(c.kbps <= CAP_BYTES_PER_SECOND * 8 / 1000, `capped page got ${c.kbps.toFixed(0)} kbit/s`);
  assert.ok(c.width < 640, `capped page is sent ${c.width} wide`);
  assert.ok(d.fps >= 25, `direct page decodes ${d.fps.toFixed(1)} fps`);
  assert.equal(d.width, 640);
  assert.match(turn.log(), /ALLOCATE processed, success/);
  // The sender reports each peer's estimate and layer on the bus.
  await waitOutput(sender, /p2pcall-peer-bitrate/);
});

// Kernel traffic shaping in the test's own network namespace: the media
// coturn relays to its clients (TURN ChannelData from its listening port)
// goes through an htb class of @kbit with a queue of @queueBytes.
function shapeRelayedMedia(turnPort, kbit, queueBytes) {
  const tc = (...args) => execFileSync('tc', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  tc('qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '10', 'r2q', '1');
  tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit');
  tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', `${kbit}kbit`,
    'ceil', `${kbit}kbit`, 'burst', '6k');
  tc('qdisc', 'add', 'dev', 'lo', 'parent', '1:20', 'handle', '20:', 'bfifo', 'limit', String(queueBytes));
  tc('filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'u32', 'match', 'ip', 'sport',
    String(turnPort), '0xffff', 'match', 'u8', '0x40', '0xc0', 'at', '28', 'flowid', '1:20');
  return () => tc('qdisc', 'del', 'dev', 'lo', 'root');
}

test('a page behind a lossy link gets what it lost sent again and its picture does not stop', async () => {
  const turn = await startCoturn(TURN_SECRET);
  cleanups.push(turn.stop);
  // 2 Mbit/s for a 600 kbit/s stream, but a queue of three packets: every
  // key frame loses some of its packets.
  cleanups.push(shapeRelayedMedia(turn.port, 2000, 3600));
  const server = await startServer({
    args: ['--turn-server', turn.url, '--turn-secret', TURN_SECRET, '--turn-ttl', '1h'],
  });
  const sender = launch('videotestsrc is-live=true pattern=smpte horizontal-speed=4 ! '
    + 'video/x-raw,width=640,height=480,framerate=30/1 ! p2pcallsink peer-name=sender '
    + `congestion-control=none video-bitrate=600 room=lossy server=ws://127.0.0.1:${server.port}/ws`);
  await waitOutput(sender, /p2pcall-joined/);
  const page = await openPage(callUrl(server, 'lossy', { name: 'Lossy', relay: '1' }));
  await waitInPage(page, () => [...window.p2pcall.state.members.values()]
    .some((m) => m.name === 'sender' && m.health?.framesDecoded > 0), undefined, 30000);

  await new Promise((resolve) => setTimeout(resolve, 3000));
  const w = await watchVideo(page, 'sender', WINDOW_MS);
  console.log(`lossy: ${JSON.stringify(w)}`);
  await screenshot(page, 'gst-lossy-link');
  assert.ok(w.rtx > 0, `nothing was resent (${w.nacks} NACKs, ${w.lost} packets lost)`);
  assert.ok(w.fps >= 25, `the page decodes ${w.fps.toFixed(1)} fps`);
  assert.ok(w.longestGapS <= 1, `the picture stopped for ${w.longestGapS.toFixed(2)} s`);
  assert.match(turn.log(), /ALLOCATE processed, success/);
});
