// What the benchmarks add to the call page in Chromium, through the
// harness's initScript (the page itself is not changed):
// - the time the page sends `join-room` (WebSocket.send is wrapped);
// - for every remote video track, a small <video> of its own whose
//   requestVideoFrameCallback gives the first frame shown, and, with
//   `g2g`, the stamp read from each frame (canvas) against the page's clock;
// - with `stampSender`, the camera replaced by a 640x480 canvas at 30 fps
//   drawing the stamp of bench-peer.cpp (40 bits of capture time in µs,
//   16x16 blocks, complement row below).
// The page's clock is put on CLOCK_REALTIME, as the GStreamer peers use:
// performance.timeOrigin + performance.now(), corrected by an offset found
// at the instants Date.now() (the system's realtime clock) ticks.
import { callUrl, openCall } from '../browser/lib/harness.mjs';

function pageScript(options) {
  const BITS = 40;
  const BLOCK = 16;
  const MODULO = 2 ** BITS;
  const bench = {
    joinSent: null,      // performance.now() when join-room went out
    firstFrame: null,    // performance.now() of the first remote frame shown
    g2g: [],             // ms, one per frame read
    unreadable: 0,
    clockOffsetMs: 0,
  };
  window.__bench = bench;

  // Offset from performance.timeOrigin + now() to the realtime clock.
  function calibrate() {
    const offsets = [];
    for (let edge = 0; edge < 5; edge++) {
      const start = Date.now();
      let precise;
      let wall;
      do { precise = performance.timeOrigin + performance.now(); wall = Date.now(); } while (wall === start);
      offsets.push(wall - precise);
    }
    offsets.sort((a, b) => a - b);
    bench.clockOffsetMs = offsets[2];
  }
  calibrate();
  const realNowUs = () => (performance.timeOrigin + performance.now() + bench.clockOffsetMs) * 1000;

  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (bench.joinSent === null && typeof data === 'string' && data.includes('"join-room"')) {
      bench.joinSent = performance.now();
    }
    return send.call(this, data);
  };

  function readStamp(pixels, width) {
    const level = (row, bit) => {
      let sum = 0;
      for (let dy = 4; dy < 12; dy++) {
        for (let dx = 4; dx < 12; dx++) sum += pixels[((row * BLOCK + dy) * width + bit * BLOCK + dx) * 4 + 1];
      }
      return sum / 64;
    };
    let value = 0;
    for (let bit = 0; bit < BITS; bit++) {
      const one = level(0, bit) > 128;
      if (one === (level(1, bit) > 128)) return null;
      value = value * 2 + (one ? 1 : 0);
    }
    return value;
  }

  function watch(track) {
    const video = document.createElement('video');
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
    video.style.cssText = 'position:fixed;right:0;bottom:0;width:64px;height:48px;z-index:9999';
    video.srcObject = new MediaStream([track]);
    const attach = () => document.body.append(video);
    if (document.body) attach(); else addEventListener('DOMContentLoaded', attach);
    const canvas = document.createElement('canvas');
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    let skipUntil = null;
    const onFrame = () => {
      const now = performance.now();
      if (bench.firstFrame === null) {
        bench.firstFrame = now;
        skipUntil = now + 1000;   // the call settling, as in bench-peer.cpp
      }
      if (options.g2g && now >= skipUntil && video.videoWidth >= BITS * BLOCK) {
        const arrivedUs = realNowUs();
        const width = BITS * BLOCK;
        canvas.width = width;
        canvas.height = 2 * BLOCK;
        ctx.drawImage(video, 0, 0, width, 2 * BLOCK, 0, 0, width, 2 * BLOCK);
        const stamp = readStamp(ctx.getImageData(0, 0, width, 2 * BLOCK).data, width);
        if (stamp === null) bench.unreadable++;
        else bench.g2g.push((((arrivedUs - stamp) % MODULO) + MODULO) % MODULO / 1000);
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
    video.play().catch(() => {});
  }

  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('track', ({ track }) => { if (track.kind === 'video') watch(track); });
    }
  };

  if (options.stampSender) {
    const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (constraints) => {
      const canvas = document.createElement('canvas');
      canvas.width = 640;
      canvas.height = 480;
      const ctx = canvas.getContext('2d');
      let x = 0;
      const draw = () => {
        ctx.fillStyle = '#406080';
        ctx.fillRect(0, 0, 640, 480);
        ctx.fillStyle = '#e0c040';
        ctx.fillRect(x, 120, 120, 240);
        x = (x + 8) % 640;
        const stamp = Math.round(realNowUs()) % MODULO;
        for (let bit = 0; bit < BITS; bit++) {
          const one = Math.floor(stamp / 2 ** (BITS - 1 - bit)) % 2 === 1;
          ctx.fillStyle = one ? '#fff' : '#000';
          ctx.fillRect(bit * BLOCK, 0, BLOCK, BLOCK);
          ctx.fillStyle = one ? '#000' : '#fff';
          ctx.fillRect(bit * BLOCK, BLOCK, BLOCK, BLOCK);
        }
      };
      draw();
      setInterval(draw, 1000 / 30);
      const stream = canvas.captureStream();
      if (constraints?.audio) {
        for (const track of (await getUserMedia({ audio: constraints.audio })).getAudioTracks()) stream.addTrack(track);
      }
      return stream;
    };
  }
}

// Opens the call page in room @room with the benchmark additions.
export function openBenchPage(browser, server, room, { g2g = false, stampSender = false, name = 'bench' } = {}) {
  const initScript = `(${pageScript})(${JSON.stringify({ g2g, stampSender })});`;
  return openCall(browser, callUrl(server, room, { name }), { initScript, viewport: { width: 800, height: 600 } });
}

// Waits until the page has shown its first remote frame; returns
// { setupMs } (join-room sent -> first frame shown).
export async function waitFirstFrame(page, timeout = 30000) {
  await page.waitForFunction(() => window.__bench?.firstFrame !== null && window.__bench?.joinSent !== null,
    null, { timeout, polling: 20 });
  return page.evaluate(() => ({ setupMs: window.__bench.firstFrame - window.__bench.joinSent }));
}

export function readG2g(page) {
  return page.evaluate(() => ({ g2g: window.__bench.g2g.slice(), unreadable: window.__bench.unreadable }));
}

export function waitJoined(page, timeout = 30000) {
  return page.waitForFunction(() => window.p2pcall?.state?.inCall === true, null, { timeout, polling: 50 });
}
