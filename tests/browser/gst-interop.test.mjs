// p2pcallsink and p2pcallsrc in a call with the page in real Chromium:
// a gst-launch-1.0 pipeline and a page in one room through p2pcall-server.
// Registered from tests/gst/meson.build (it needs the plugin's build dir).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { callUrl, launchBrowser, openCall, startServer, stopAll, waitInPage } from './lib/harness.mjs';
import { launch, stopPipelines, waitOutput } from './lib/gst-launch.mjs';

let server, browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await stopPipelines();
  await stopAll();
});

const wsUrl = () => `ws://127.0.0.1:${server.port}/ws`;

test('a p2pcallsink picture is seen in the page at its size', async () => {
  // The pipeline is in the room first: it offers, the page answers.
  const sink = launch(`videotestsrc is-live=true ! video/x-raw,width=352,height=288,framerate=15/1 `
    + `! p2pcallsink room=gst-to-page peer-name=gst server=${wsUrl()}`);
  await waitOutput(sink, /PLAYING/);
  const page = await openCall(browser, callUrl(server, 'gst-to-page', { name: 'Page' }));
  try {
    await waitInPage(page, () => document.querySelector('#tiles .tile.remote video')?.videoWidth > 0);
    const size = await page.evaluate(() => {
      const video = document.querySelector('#tiles .tile.remote video');
      return [video.videoWidth, video.videoHeight];
    });
    assert.deepEqual(size, [352, 288]);
  } finally {
    if (page) console.log(page.p2pcallLog.join('\n'));
  }
});

test('the page\'s camera arrives at a p2pcallsrc pipeline at 640x480', async () => {
  // The page is in the room first: it offers, p2pcallsrc answers.
  const page = await openCall(browser, callUrl(server, 'page-to-gst', { name: 'Page' }));
  await waitInPage(page, () => document.querySelector('#signalling-status')?.dataset.state === 'connected');
  const src = launch(`p2pcallsrc layout=separate name=s room=page-to-gst server=${wsUrl()} `
    + 's. ! video/x-raw ! fakesink name=out sync=false');
  const [, width, height] = await waitOutput(src,
    /out\.GstPad:sink: caps = video\/x-raw.*width=\(int\)(\d+), height=\(int\)(\d+)/);
  assert.deepEqual([Number(width), Number(height)], [640, 480]);
});

test('a p2pcallsink joining after the page answers its offer', async () => {
  // The page offers with its own payload types; the sink answers with them.
  const page = await openCall(browser, callUrl(server, 'page-offers', { name: 'Page' }));
  await waitInPage(page, () => document.querySelector('#signalling-status')?.dataset.state === 'connected');
  launch(`videotestsrc is-live=true ! video/x-raw,width=320,height=180,framerate=15/1 `
    + `! p2pcallsink name=s room=page-offers server=${wsUrl()} audiotestsrc is-live=true ! s.`);
  await waitInPage(page, () => document.querySelector('#tiles .tile.remote video')?.videoWidth > 0);
  const size = await page.evaluate(() => {
    const video = document.querySelector('#tiles .tile.remote video');
    return [video.videoWidth, video.videoHeight];
  });
  assert.deepEqual(size, [320, 180]);
});

test('a p2pcallsrc joining while the page still holds one that vanished gets video', async () => {
  // The first receiver is killed: the page keeps its member for a while in
  // case it comes back (same clientId). A newcomer must still be offered to.
  const page = await openCall(browser, callUrl(server, 'replaced', { name: 'Page' }));
  await waitInPage(page, () => document.querySelector('#signalling-status')?.dataset.state === 'connected');
  const receiver = () => launch(`p2pcallsrc layout=separate name=s room=replaced server=${wsUrl()} `
    + 's. ! video/x-raw ! fakesink name=out sync=false');
  const first = receiver();
  await waitOutput(first, /out\.GstPad:sink: caps = video\/x-raw/);
  first.child.kill('SIGKILL');
  const second = receiver();
  const [, width] = await waitOutput(second, /out\.GstPad:sink: caps = video\/x-raw.*width=\(int\)(\d+)/);
  assert.equal(Number(width), 640);
});

test('pages come and go one after another and each sees the p2pcallsink', async () => {
  // A leaving viewer's branch once returned FLUSHING to the sink's tee, and
  // the encoder stopped sending to everyone for good.
  launch(`videotestsrc is-live=true ! video/x-raw,width=640,height=480,framerate=30/1 `
    + `! p2pcallsink room=come-and-go peer-name=gst server=${wsUrl()}`);
  for (let i = 0; i < 10; i++) {
    const page = await openCall(browser, callUrl(server, 'come-and-go', { name: `Viewer ${i}` }));
    await waitInPage(page, () => document.querySelector('#tiles .tile.remote video')?.videoWidth > 0,
      undefined, 15000);
    await page.context().close();
  }
});
