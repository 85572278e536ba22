// The page and the GStreamer elements under restrictions and faults: a call
// relayed by a real coturn with both ends relay-only (?relay=1 and
// ice-transport-policy=relay), and a signalling server killed with SIGKILL
// and restarted on its port mid-call. Registered from tests/gst/meson.build
// (it needs the plugin's build directory).
import assert from 'node:assert/strict';
import { after, afterEach, test } from 'node:test';
import {
  callUrl, framesDecoded, pagesPerTest, startServer, waitFramesDecoded, waitInPage,
} from './lib/harness.mjs';
import { startCoturn } from './lib/coturn.mjs';
import { countOutput, launch, stopPipelines, waitOutput } from './lib/gst-launch.mjs';

const TURN_SECRET = 'coturn-shared-secret';
const SENDER = 'videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=15/1 ! p2pcallsink';
// Each test's pages close (printing their logs), then its pipelines and
// what it started stop.
const { openPage, cleanups } = pagesPerTest({ afterEach, after }, stopPipelines);

const wsUrl = (server) => `ws://127.0.0.1:${server.port}/ws`;
const statusIs = (state) => document.querySelector('#signalling-status')?.dataset.state === state;

// The type of the local candidate in each connection's selected pair.
function selectedLocalCandidateTypes(page) {
  return page.evaluate(async () => {
    const types = [];
    for (const pc of window.p2pcall.session.peerConnections) {
      const stats = await pc.getStats();
      for (const s of stats.values()) {
        if (s.type !== 'transport' || !s.selectedCandidatePairId) continue;
        const pair = stats.get(s.selectedCandidatePairId);
        types.push(stats.get(pair.localCandidateId)?.candidateType);
      }
    }
    return types;
  });
}

test('a relay-only p2pcallsink reaches a relay-only page through coturn', async () => {
  const turn = await startCoturn(TURN_SECRET);
  cleanups.push(turn.stop);
  const server = await startServer({
    args: ['--turn-server', turn.url, '--turn-secret', TURN_SECRET, '--turn-ttl', '1h'],
  });
  cleanups.push(server.stop);
  const sink = launch(`${SENDER} room=relayed ice-transport-policy=relay server=${wsUrl(server)}`);
  await waitOutput(sink, /p2pcall-joined/);
  const page = await openPage(callUrl(server, 'relayed', { name: 'Page', relay: '1' }));
  await waitInPage(page, () => document.querySelector('#tiles .tile.remote video')?.videoWidth > 0);
  await waitFramesDecoded(page, 10);
  assert.deepEqual([...new Set(await selectedLocalCandidateTypes(page))], ['relay']);
  assert.match(turn.log(), /ALLOCATE processed, success/);
});

test('gst to page media flows while the server is killed, and both rejoin', async () => {
  let server = await startServer();
  const port = server.port;
  const sink = launch(`${SENDER} room=crash server=${wsUrl(server)}`);
  await waitOutput(sink, /p2pcall-joined/);
  const page = await openPage(callUrl(server, 'crash', { name: 'Page' }));
  await waitFramesDecoded(page, 10);
  await page.evaluate(() => { window.connectionBeforeCrash = window.p2pcall.session.peerConnections[0]; });
  const idBefore = await page.evaluate(() => window.p2pcall.state.ownId);

  server.process.kill('SIGKILL');
  await server.stop();
  await waitInPage(page, statusIs, 'reconnecting');
  await waitOutput(sink, /p2pcall-signalling-lost/);
  const whileDown = await framesDecoded(page);
  await waitFramesDecoded(page, whileDown + 15);   // no server, still video

  server = await startServer({ port });
  cleanups.push(server.stop);
  await waitInPage(page, statusIs, 'connected');
  await waitInPage(page, (old) => window.p2pcall.state.ownId && window.p2pcall.state.ownId !== old, idBefore);
  const deadline = Date.now() + 30000;
  while (countOutput(sink, /p2pcall-joined/g) < 2) {
    assert.ok(Date.now() < deadline, `the pipeline did not rejoin:\n${sink.output.slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // The same call goes on: one peer connection, the one from before.
  assert.ok(await page.evaluate(() => window.p2pcall.session.peerConnections.length === 1
    && window.p2pcall.session.peerConnections[0] === window.connectionBeforeCrash));
  await waitFramesDecoded(page, await framesDecoded(page));
  assert.equal(countOutput(sink, /p2pcall-peer-joined/g), 1, 'the pipeline took the page for a new member');
});
