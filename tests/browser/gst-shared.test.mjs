// A p2pcallsink and a p2pcallsrc with the same peer-name are one member of
// the room: a page sees one tile for it, sending and receiving, however the
// two parts come and go. Real Chromium, real gst-launch-1.0 / Python
// processes. Registered from tests/gst/meson.build.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { callUrl, launchBrowser, openCall, remoteTiles, screenshot, startServer, stopAll, waitInPage } from './lib/harness.mjs';
import { launch, stopPipelines, stopProcess, waitOutput } from './lib/gst-launch.mjs';

let server, browser;
const children = new Set();

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await stopPipelines();
  await stopAll();
});

const wsUrl = () => `ws://127.0.0.1:${server.port}/ws`;
// The page's fake camera decoded on an output pad of a member's p2pcallsrc
// (its pads are named after the sending member). Any size: Chromium scales
// its camera down when the machine is busy (to 320x240 while encoding for
// three members).
function pageCamera(page) {
  return page.evaluate(() => window.p2pcall.state.ownId)
    .then((id) => new RegExp(`GstP2pcallSrc:s\\.GstGhostPad:video_${id}_\\d+: caps = video/x-raw`));
}

// Remote tiles whose video plays, by name: { alice: 352, ... } (widths).
function playingTiles(page) {
  return remoteTiles(page).then((tiles) => Object.fromEntries(
    tiles.filter((t) => t.videoWidth > 0).map((t) => [t.name, t.videoWidth])));
}

test('two-way gst-launch members: one tile each in the page, media both ways', async () => {
  const member = (name, width, height) => {
    const common = `room=shared peer-name=${name} server=${wsUrl()}`;
    return launch(`videotestsrc is-live=true ! video/x-raw,width=${width},height=${height},framerate=15/1 `
      + `! p2pcallsink ${common} p2pcallsrc name=s layout=separate ${common}`);
  };
  // Alice and Bob are in the room before the page: they offer to it.
  const alice = member('alice', 352, 288);
  const bob = member('bob', 320, 240);
  await waitOutput(alice, /PLAYING/);
  await waitOutput(bob, /PLAYING/);
  const page = await openCall(browser, callUrl(server, 'shared', { name: 'Page' }));
  try {
    await waitInPage(page, () => [...document.querySelectorAll('#tiles .tile.remote video')]
      .filter((v) => v.videoWidth > 0).length === 2);
    // Each member receives the page's camera...
    const camera = await pageCamera(page);
    await waitOutput(alice, camera);
    await waitOutput(bob, camera);
    // ...and is one tile with its own picture, not a sender and a receiver.
    const tiles = await remoteTiles(page);
    assert.equal(tiles.length, 2, JSON.stringify(tiles));
    assert.deepEqual(await playingTiles(page), { alice: 352, bob: 320 });
    await screenshot(page, 'gst-shared-two-members');

    // Carol comes after the page: the page offers to her.
    const carol = member('carol', 176, 144);
    await waitOutput(carol, camera);
    await waitInPage(page, () => [...document.querySelectorAll('#tiles .tile.remote video')]
      .filter((v) => v.videoWidth > 0).length === 3);
    assert.deepEqual(await playingTiles(page), { alice: 352, bob: 320, carol: 176 });
  } finally {
    await page.context().close();
  }
});

test('a member whose receiving part starts mid-call stays one tile and gets the page', async () => {
  const page = await openCall(browser, callUrl(server, 'in-turns', { name: 'Page' }));
  const child = spawn('/usr/bin/python3', [new URL('./lib/member-in-turns.py', import.meta.url).pathname,
    wsUrl(), 'in-turns', 'dave'], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(child);
  const run = { output: '' };
  child.stdout.setEncoding('utf8').on('data', (c) => { run.output += c; });
  // In the output the test matches, so a failure shows how the member ended.
  child.on('exit', (code, signal) => { run.output += `member exited: ${signal ?? `status ${code}`}\n`; });
  try {
    await waitInPage(page, () => document.querySelector('#tiles .tile.remote video')?.videoWidth > 0);
    assert.deepEqual(await playingTiles(page), { dave: 320 });
    const firstConnection = await page.evaluate(() => window.p2pcall.session.peerConnections[0]);

    // The p2pcallsrc joins the member: it offers the page a new connection,
    // which replaces the old one in the same tile.
    child.stdin.write('receive\n');
    await waitOutput(run, /^receiving$/m).catch((error) => {
      child.kill('SIGABRT');    // its faulthandler prints where it is stuck
      throw error;
    });
    await waitOutput(run, /received \d+x\d+/);
    await waitInPage(page, (old) => {
      const pcs = window.p2pcall.session.peerConnections;
      return pcs.length === 1 && pcs[0] !== old && pcs[0].connectionState === 'connected'
        && document.querySelector('#tiles .tile.remote video')?.videoWidth > 0;
    }, firstConnection);
    assert.deepEqual(await playingTiles(page), { dave: 320 });

    // Its p2pcallsink stops: the member stays, receiving, still one tile.
    child.stdin.write('stop-sending\n');
    await waitOutput(run, /stopped sending/);
    await waitOutput(run, /(received \d+x\d+ on .*\n[^]*){2}/);
    await waitInPage(page, () => window.p2pcall.session.peerConnections.length === 1
      && window.p2pcall.session.peerConnections[0].connectionState === 'connected');
    let tiles = await remoteTiles(page);
    assert.equal(tiles.length, 1);
    assert.equal(tiles[0].name, 'dave');

    // Stopped and started again at once: two new connections back to back,
    // and the call settles with media both ways.
    child.stdin.write('send\nstop-sending\nsend\n');
    await waitOutput(run, /(^sending\n[^]*){3}/m);
    await waitInPage(page, () => {
      const pcs = window.p2pcall.session.peerConnections;
      return pcs.length === 1 && pcs[0].connectionState === 'connected'
        && document.querySelector('#tiles .tile.remote video')?.videoWidth === 320;
    });
    // And dave gets the page's camera on the connection made last.
    await waitOutput(run, /^sending\n(?:(?!sending\n)[^])*^received \d+x\d+ on \S+\n(?![^]*^sending$)/m);
    tiles = await remoteTiles(page);
    assert.equal(tiles.length, 1);
    assert.doesNotMatch(run.output, /error:/);
  } finally {
    await stopProcess(child);   // the member stops its pipelines and exits
    await page.context().close();
  }
});
