// p2pcallsink and p2pcallsrc in calls with the page in real Firefox ESR:
// gst-launch-1.0 pipelines and a Firefox page in one room, in a namespace
// with a test host (Firefox gathers nothing on loopback). Registered from
// tests/browser/meson.build with the plugin's build directory.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { countOutput, launch, stopPipelines, waitOutput } from './lib/gst-launch.mjs';
import {
  audioEnergy, callUrl, launchFirefox, openCall, screenshot, startServer, stopAll, waitInPage, waitSound,
} from './lib/harness.mjs';

let server, firefox;
const pages = [];

before(async () => {
  server = await startServer();
  firefox = await launchFirefox();
});

after(async () => {
  for (const page of pages) console.log(page.p2pcallLog.join('\n'));
  await stopPipelines();
  await stopAll();
});

const wsUrl = () => `ws://127.0.0.1:${server.port}/ws`;

async function openFox(room) {
  const page = await openCall(firefox, callUrl(server, room, { name: 'Fox' }));
  pages.push(page);
  return page;
}

function remoteVideoSize(page) {
  return page.evaluate(() => {
    const video = document.querySelector('#tiles .tile.remote video');
    return [video.videoWidth, video.videoHeight];
  });
}

// Resolves once the p2pcallsink or p2pcallsrc in @run is in its room: its
// p2pcall-joined bus message (gst-launch -m). PLAYING comes before that.
function waitJoined(run) {
  return waitOutput(run, /p2pcall-joined, room-id=/);
}

// Resolves once @regexp (with the g flag) occurs @count times in @run's output.
async function waitCount(run, regexp, count, timeout = 30000) {
  const deadline = Date.now() + timeout;
  while (countOutput(run, regexp) < count) {
    if (Date.now() > deadline) throw new Error(`${countOutput(run, regexp)} of ${count} ${regexp} in:\n${run.output.slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// Every level message's loudest channel, in dB, from gst-launch -m output.
function levels(run) {
  return [...run.output.matchAll(/level, .*?rms=\(GValueArray\)< ([^>]*) >/g)]
    .map(([, rms]) => Math.max(...rms.split(',').map(Number)));
}

test('a p2pcallsink picture and sound reach Firefox at the pipeline\'s size', async () => {
  // The pipeline is in the room first: it offers, Firefox answers and then
  // re-offers to send its own camera back (a renegotiation with actpass).
  const sink = launch('videotestsrc is-live=true ! video/x-raw,width=352,height=288,framerate=15/1 '
    + `! p2pcallsink name=s room=gst-to-fox peer-name=gst server=${wsUrl()} `
    + 'audiotestsrc is-live=true wave=sine volume=0.5 ! s.');
  await waitJoined(sink);
  const page = await openFox('gst-to-fox');
  await waitInPage(page, () => document.querySelector('#tiles .tile.remote video')?.videoWidth > 0);
  assert.deepEqual(await remoteVideoSize(page), [352, 288]);
  await waitSound(page, 1e-4);
  assert.doesNotMatch(sink.output, /ERROR/);
  await screenshot(page, 'firefox-sees-p2pcallsink');
});

test('Firefox\'s camera and microphone arrive at a p2pcallsrc pipeline', async () => {
  // The page is in the room first: Firefox offers, p2pcallsrc answers.
  const page = await openFox('fox-to-gst');
  await waitInPage(page, () => window.p2pcall.state.inCall);
  const src = launch(`p2pcallsrc layout=separate name=s room=fox-to-gst server=${wsUrl()} `
    + 's. ! video/x-raw ! fakesink name=vout sync=false silent=false '
    + 's. ! audio/x-raw ! level interval=200000000 post-messages=true ! fakesink sync=false');
  const [, width, height] = await waitOutput(src,
    /vout\.GstPad:sink: caps = video\/x-raw.*width=\(int\)(\d+), height=\(int\)(\d+)/);
  // Firefox's 640x480 fake camera, which Firefox may start sending smaller.
  assert.equal(Number(width) * 3, Number(height) * 4, `${width}x${height} is not 4:3`);
  await waitCount(src, /vout: last-message = chain/g, 30);   // frames keep coming
  // Firefox's fake microphone is a tone: loud, not silence.
  await waitCount(src, /\(element\): level, /g, 5);
  const loudest = Math.max(...levels(src));
  console.log(`Firefox tone at p2pcallsrc: loudest ${loudest.toFixed(1)} dB RMS`);
  assert.ok(loudest > -40, `the tone arrives (loudest ${loudest} dB RMS)`);
  // And the page shows the pipeline as a member that sends nothing.
  await waitInPage(page, () => document.querySelector('.tile.remote')?.dataset.connection === 'connected');
});

test('a p2pcallsink joining after Firefox answers Firefox\'s offer', async () => {
  // Firefox offers with its own payload types (and no H.264 here); the sink
  // answers with them.
  const page = await openFox('fox-offers');
  await waitInPage(page, () => window.p2pcall.state.inCall);
  const before = await audioEnergy(page);
  launch('videotestsrc is-live=true ! video/x-raw,width=320,height=180,framerate=15/1 '
    + `! p2pcallsink name=s room=fox-offers server=${wsUrl()} audiotestsrc is-live=true ! s.`);
  await waitInPage(page, () => document.querySelector('#tiles .tile.remote video')?.videoWidth > 0);
  assert.deepEqual(await remoteVideoSize(page), [320, 180]);
  await waitSound(page, before + 1e-4);
});

test('a p2pcallsink sending H.264 that answers Firefox\'s offer says Firefox cannot decode it', async () => {
  // Firefox is in the room first and offers without H.264: the sink, which
  // answers, warns all the same, and is heard.
  const page = await openFox('fox-offers-no-h264');
  await waitInPage(page, () => window.p2pcall.state.inCall);
  const sink = launch('videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=15/1 '
    + `! p2pcallsink name=s video-codec=h264 room=fox-offers-no-h264 server=${wsUrl()} audiotestsrc is-live=true ! s.`);
  await waitOutput(sink, /WARNING: from element \/GstPipeline:pipeline0\/GstP2pcallSink:s: Peer \S+ refused our video \(H264\): it decodes none of these codecs\./);
  await waitSound(page, 1e-4);
  assert.doesNotMatch(sink.output, /Caught SIG|ERROR: from element/);
});

test('a p2pcallsink sending H.264, which this Firefox cannot decode, says so and is still heard', async () => {
  // Debian's Firefox has no OpenH264: it refuses the video m-line (without
  // ICE credentials or a=setup there), and re-offers it refused. The call
  // goes on with the sound.
  const sink = launch('videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=15/1 '
    + `! p2pcallsink name=s video-codec=h264 room=fox-no-h264 server=${wsUrl()} audiotestsrc is-live=true ! s.`);
  // In the room before Firefox, so the sink offers and reads the refusal in
  // Firefox's answer. (PLAYING came before the join: a Firefox page that
  // got in first offered, the sink answered, and no warning came.)
  await waitJoined(sink);
  const page = await openFox('fox-no-h264');
  await waitOutput(sink, /WARNING: from element \/GstPipeline:pipeline0\/GstP2pcallSink:s: Peer \S+ refused our video \(H264\): it decodes none of these codecs\./);
  await waitInPage(page, () => document.querySelector('.tile.remote')?.dataset.connection === 'connected');
  await waitSound(page, 1e-4);
  // Firefox's own renegotiation (to send its camera and microphone back)
  // is answered too: its offer is in place and it is stable again.
  await waitInPage(page, () => {
    const pc = window.p2pcall.session.peerConnections[0];
    return pc.signalingState === 'stable' && pc.localDescription?.type === 'offer';
  });
  assert.ok(!page.p2pcallLog.some((line) => /negotiation/.test(line)), page.p2pcallLog.join('\n'));
  assert.doesNotMatch(sink.output, /Caught SIG|ERROR: from element/);
});
