// Drives p2pcall in real browsers: starts p2pcall-server, launches Debian's
// chromium through playwright-core and Debian's firefox-esr through
// puppeteer-core (WebDriver BiDi), opens call pages, takes screenshots and
// stops everything it started. Shared by the browser tests and the
// GStreamer <-> browser interop tests; keep its exports stable. The page
// helpers below take a page of either browser.
//
// Environment: P2PCALL_SERVER (the server binary), P2PCALL_WEB_ROOT (web/),
// P2PCALL_ARTIFACTS (where screenshots go), CHROMIUM (default /usr/bin/chromium),
// FIREFOX (default /usr/bin/firefox-esr).
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';

export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
  // getDisplayMedia picks the whole (fake) screen without a picker.
  '--auto-select-desktop-capture-source=Entire screen',
  '--autoplay-policy=no-user-gesture-required',
];

// Firefox's fake camera (640x480) and microphone (a tone), without prompts;
// host candidates with their real address rather than an mDNS name, which
// no other peer in a test namespace could resolve.
export const FIREFOX_PREFS = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'media.autoplay.default': 0,
  'media.autoplay.blocking_policy': 0,
};

const LISTENING = /p2pcall-server: listening on (http\S+)/;
const started = new Set();   // servers and browsers to stop at exit

// Starts p2pcall-server on loopback. @port 0 picks a free one; @iceServers
// are advertised (none by default); @args are appended. Resolves
// { url, port, process, stop(), output() } once listening.
export function startServer({ port = 0, iceServers = ['none'], args = [] } = {}) {
  const exe = requireEnv('P2PCALL_SERVER');
  const child = spawn(exe, [
    '--address', '127.0.0.1', '--port', String(port),
    ...iceServers.flatMap((url) => ['--ice-server', url]),
    '--web-root', requireEnv('P2PCALL_WEB_ROOT'), ...args,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const server = {
    process: child,
    url: '',
    port: 0,
    output: () => output,
    stop: () => stopProcess(child).finally(() => started.delete(server)),
  };
  started.add(server);
  return new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk;
      const match = LISTENING.exec(output);
      if (match && !server.url) {
        server.url = match[1];
        server.port = Number(new URL(match[1]).port);
        resolve(server);
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', (chunk) => { output += chunk; });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (!server.url) reject(new Error(`p2pcall-server exited (${code}) before listening:\n${output}`));
    });
  });
}

// With a test host (netns-run.sh --test-host sets P2PCALL_TEST_HOST)
// Chromium gathers its address like on any LAN and leaves loopback out, as
// it does for users (Firefox never has a loopback candidate either).
export async function launchBrowser({ args = [] } = {}) {
  const flags = process.env.P2PCALL_TEST_HOST
    ? CHROMIUM_FLAGS.filter((flag) => flag !== '--allow-loopback-in-peer-connection')
    : CHROMIUM_FLAGS;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [...flags, ...args],
    headless: true,
  });
  const entry = { stop: () => browser.close().catch(() => {}) };
  started.add(entry);
  browser.on('disconnected', () => started.delete(entry));
  return browser;
}

// Firefox ESR headless. Firefox gathers no ICE candidate on loopback: run it
// in a namespace with a test host (tests/netns-run.sh --test-host).
export async function launchFirefox({ prefs = {} } = {}) {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: process.env.FIREFOX ?? '/usr/bin/firefox-esr',
    headless: true,
    extraPrefsFirefox: { ...FIREFOX_PREFS, ...prefs },
  });
  const entry = { stop: () => browser.close().catch(() => {}), process: browser.process() };
  started.add(entry);
  browser.on('disconnected', () => started.delete(entry));
  return browser;
}

function isPuppeteer(target) {
  return typeof target.createBrowserContext === 'function' || typeof target.setViewport === 'function';
}

// Opens @url in a context of its own (separate storage, like another person).
// Console errors and page errors are kept on page.p2pcallLog for diagnosis.
// @initScript runs in the page before its own scripts (to stub an API).
// @browser is a Chromium (playwright) or Firefox (puppeteer) browser.
// @device (Chromium only): more of playwright's context options, e.g.
// { isMobile: true, hasTouch: true, deviceScaleFactor: 3 } for a phone.
export async function openCall(browser, url, { viewport = { width: 1280, height: 800 }, initScript, device = {} } = {}) {
  if (isPuppeteer(browser)) return openFirefoxCall(browser, url, { viewport, initScript });
  const context = await browser.newContext({ ...device, viewport, permissions: ['camera', 'microphone'] });
  const page = await context.newPage();
  if (initScript) await page.addInitScript(initScript);
  page.p2pcallLog = [];
  page.on('console', (msg) => page.p2pcallLog.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (error) => page.p2pcallLog.push(`pageerror: ${error.message}`));
  await page.goto(url);
  return page;
}

async function openFirefoxCall(browser, url, { viewport, initScript }) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport(viewport);
  if (initScript) await page.evaluateOnNewDocument(initScript);
  page.p2pcallLog = [];
  page.on('console', (msg) => page.p2pcallLog.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (error) => page.p2pcallLog.push(`pageerror: ${error.message}`));
  await page.goto(url);
  return page;
}

export function callUrl(server, room, extra = {}) {
  const url = new URL(server.url);
  if (room) url.searchParams.set('room', room);
  for (const [key, value] of Object.entries(extra)) url.searchParams.set(key, value);
  return url.href;
}

export async function screenshot(page, name) {
  const dir = process.env.P2PCALL_ARTIFACTS ?? path.resolve('artifacts');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

// Waits for @predicate (run in the page) to be truthy; generous by default,
// since pass/fail must never hinge on speed.
export function waitInPage(page, predicate, arg, timeout = 30000) {
  if (isPuppeteer(page)) return page.waitForFunction(predicate, { timeout, polling: 100 }, arg);
  return page.waitForFunction(predicate, arg, { timeout, polling: 100 });
}

// Number of remote members whose peer connection is 'connected'.
export function connectedCount(page) {
  return page.evaluate(() => window.p2pcall.session.peerConnections
    .filter((pc) => pc.connectionState === 'connected').length);
}

export function waitConnected(page, count, timeout) {
  return waitInPage(page, (n) => window.p2pcall?.session.peerConnections
    .filter((pc) => pc.connectionState === 'connected').length === n, count, timeout);
}

// Remote video frames decoded so far, summed over every connection.
export function framesDecoded(page) {
  return page.evaluate(async () => {
    let frames = 0;
    for (const pc of window.p2pcall.session.peerConnections) {
      for (const stat of (await pc.getStats()).values()) {
        if (stat.type === 'inbound-rtp' && stat.kind === 'video') frames += stat.framesDecoded ?? 0;
      }
    }
    return frames;
  });
}

// Resolves once more frames than @above have been decoded.
export async function waitFramesDecoded(page, above = 0, timeout = 30000) {
  const deadline = Date.now() + timeout;
  let frames = 0;
  while (Date.now() < deadline) {
    frames = await framesDecoded(page);
    if (frames > above) return frames;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no video frames decoded beyond ${above} (have ${frames})`);
}

// Received sound so far: the sum of inbound audio's totalAudioEnergy over
// every connection (both browsers report it; silence adds nothing).
export function audioEnergy(page) {
  return page.evaluate(async () => {
    let energy = 0;
    for (const pc of window.p2pcall.session.peerConnections) {
      for (const stat of (await pc.getStats()).values()) {
        if (stat.type === 'inbound-rtp' && stat.kind === 'audio') energy += stat.totalAudioEnergy ?? 0;
      }
    }
    return energy;
  });
}

// Resolves once sound arrives: received energy grows past @above.
export async function waitSound(page, above = 0, timeout = 30000) {
  const deadline = Date.now() + timeout;
  let energy = 0;
  while (Date.now() < deadline) {
    energy = await audioEnergy(page);
    if (energy > above) return energy;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no sound received beyond energy ${above} (have ${energy})`);
}

// Remote tiles: [{ key, name, audio, video, screen, connection, videoWidth }].
export function remoteTiles(page) {
  return page.$$eval('#tiles .tile.remote', (tiles) => tiles.map((tile) => ({
    key: tile.dataset.key,
    name: tile.querySelector('.tile-name').textContent,
    audio: tile.dataset.audio,
    video: tile.dataset.video,
    screen: tile.dataset.screen,
    connection: tile.dataset.connection,
    videoWidth: tile.querySelector('video').videoWidth,
  })));
}

export function waitRemoteTiles(page, count, timeout) {
  return waitInPage(page, (n) => document.querySelectorAll('#tiles .tile.remote').length === n, count, timeout);
}

// Pages opened per test in one shared browser: after each test its pages
// close (their console printed), then @stopPipelines and the functions the
// test pushed on `cleanups` run; after the file every server and browser
// stops. @hooks: node:test's { afterEach, after }.
export function pagesPerTest({ afterEach, after }, stopPipelines) {
  let browser;
  const pages = [];
  const cleanups = [];
  afterEach(async () => {
    for (const page of pages.splice(0)) {
      console.log(page.p2pcallLog.join('\n'));
      await page.context().close();
    }
    await stopPipelines();
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  after(stopAll);
  return {
    cleanups,
    async openPage(url) {
      browser ??= await launchBrowser();
      const page = await openCall(browser, url);
      pages.push(page);
      return page;
    },
  };
}

// Stops every server and browser this process started.
export async function stopAll() {
  await Promise.all([...started].map((entry) => entry.stop()));
  started.clear();
}

function stopProcess(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function requireEnv(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run the tests through meson test)`);
  return value;
}

// A test that throws must not leave a server or Chromium behind.
process.on('exit', () => {
  for (const entry of started) entry.process?.kill('SIGKILL');
});
