// The p2pcall benchmarks (issue 6), run by `meson test -C BUILD --benchmark`
// inside tests/netns-run.sh (loopback only):
//   1. join-to-first-frame: gst->gst, gst->browser, browser->gst, browser->browser
//   2. glass-to-glass latency: gst->gst, gst->browser, browser->browser
//   3. signalling relay: p2pcall-server against a Node ws server (relay-bench.mjs)
//   4. sender CPU per viewer: one p2pcallsink, 1/2/4/8 p2pcallsrc processes
//   5. adaptive bitrate: one p2pcallsink congestion-control=adaptive, 8
//      p2pcallsrc processes, half relayed through a coturn capped with
//      max-bps (what each class decodes), and its CPU against 1 viewer
// Writes $P2PCALL_BENCH_OUT/report.json (the keys, nothing else),
// details.json (what else was measured: raw samples, versions) and prints a
// Markdown table. `--quick` (or P2PCALL_BENCH_QUICK=1): fewer, shorter runs.
// `--only setup,g2g,relay,cpu,adaptive` runs some of them. Numbers only: the exit
// status is non-zero only when a measurement could not be taken at all.
import { spawn, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(import.meta.url);

// 10,000 sockets in this process (and as many in the Node server it starts)
// need more descriptors than a usual soft limit of 1,024: raise it to the
// hard limit and start again.
function descriptorLimits() {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  const [soft, hard] = line.split(/\s+/).slice(3, 5);
  return { soft: Number(soft) || Infinity, hard: hard === 'unlimited' ? Infinity : Number(hard) };
}
{
  const { soft, hard } = descriptorLimits();
  if (soft < 25000 && hard > soft && !process.env.P2PCALL_BENCH_RAISED) {
    const limit = hard === Infinity ? 'unlimited' : String(hard);
    const child = spawn('sh', ['-c', `ulimit -n ${limit} && exec "$0" "$@"`, process.execPath, SCRIPT, ...process.argv.slice(2)],
      { stdio: 'inherit', env: { ...process.env, P2PCALL_BENCH_RAISED: '1' } });
    child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
    await new Promise(() => {});
  }
}

const { launchBrowser, startServer, stopAll } = await import('../browser/lib/harness.mjs');
const { startPeer, stopPeers } = await import('./gst-peers.mjs');
const { openBenchPage, waitFirstFrame, readG2g, waitJoined } = await import('./page-bench.mjs');
const { runRelay, relayTable, SERVERS } = await import('./relay-bench.mjs');
const { startCoturn } = await import('../browser/lib/coturn.mjs');
const { reportTables, summary } = await import('./report-tables.mjs');

const quick = process.argv.includes('--quick') || process.env.P2PCALL_BENCH_QUICK === '1';
const onlyArg = process.argv.find((a) => a.startsWith('--only'));
const only = onlyArg ? (onlyArg.split('=')[1] ?? process.argv[process.argv.indexOf(onlyArg) + 1]).split(',') : null;
const wanted = (part) => !only || only.includes(part);

const CALLS = quick ? 5 : 20;               // calls per setup measurement
const COLD_CALLS = quick ? 2 : 5;           // fresh receiver processes
const G2G_SECONDS = quick ? 4 : 10;
const CPU_SECONDS = quick ? 4 : 10;
const VIEWERS = [1, 2, 4, 8];
const ADAPTIVE_CONVERGE_MS = quick ? 15000 : 25000;
const CAP_BYTES_PER_SECOND = 40000;         // coturn max-bps: about 320 kbit/s

const outDir = process.env.P2PCALL_BENCH_OUT ?? path.resolve('bench');
mkdirSync(outDir, { recursive: true });

const t0 = performance.now();
const log = (text) => console.error(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${text}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const report = {
  setup_ms: {},
  glass_to_glass_ms: {},
  relay: {},
  sender_cpu_s: {},
  sender_cpu_ratio_8_1: null,
  adaptive: {},
};
const details = { quick, started: new Date().toISOString(), load_average_at_start: os.loadavg().map((x) => Math.round(x * 10) / 10), setup_ms: {}, glass_to_glass_ms: {}, sender: {}, failures: [] };

let server;
let browser;
let roomCounter = 0;
const room = (what) => `bench-${what}-${++roomCounter}`;
const wsUrl = () => `ws://127.0.0.1:${server.port}/ws`;

// A p2pcallsink sending the stamped 640x480 test picture into @roomId.
async function startSender(roomId, extra = []) {
  const sender = startPeer('send', ['--server', wsUrl(), '--room', roomId, ...extra]);
  await sender.waitFor((l) => l.event === 'joined');
  return sender;
}

// p2pcallsrc joining @roomId @calls times in one process; setup times in ms.
async function gstReceiverCalls(roomId, calls) {
  const recv = startPeer('recv', ['--server', wsUrl(), '--room', roomId, '--calls', String(calls)]);
  const code = await recv.exited;
  await recv.stop();
  const results = recv.lines.filter((l) => 'call' in l);
  for (const r of results.filter((l) => l.error)) details.failures.push(`gst receiver call ${r.call}: ${r.error}`);
  if (code !== 0 && !results.length) throw new Error(`bench peer recv failed (${code}):\n${recv.stderr}`);
  if (results.some((r) => r.join_from !== 'log')) details.join_from_playing = true;
  const ok = results.filter((r) => !r.error);
  (details.setup_phases ??= []).push(...ok.map(({ joined_ms, connected_ms, setup_ms }) => ({ room: roomId, joined_ms, connected_ms, setup_ms })));
  return ok.map((r) => r.setup_ms);
}

// A fresh page per call joining @roomId; setup times in ms.
async function pageReceiverCalls(roomId, calls) {
  const samples = [];
  for (let i = 0; i < calls; i++) {
    const page = await openBenchPage(browser, server, roomId, { name: `viewer-${i}` });
    try {
      samples.push((await waitFirstFrame(page)).setupMs);
    } catch (error) {
      details.failures.push(`page call ${i} in ${roomId}: ${error.message.split('\n')[0]}`);
    } finally {
      await page.context().close();
    }
    await sleep(300);
  }
  return samples;
}

async function measureSetup() {
  // gst -> gst and gst -> browser: a p2pcallsink is in the room, the other
  // member joins. Its clock runs from its join-room to its first frame.
  const gstRoom = room('setup-gst');
  const sender = await startSender(gstRoom);
  await sleep(1000);   // the sender's first frames are encoded; its certificate exists
  log('setup: gst -> gst');
  const gstGst = await gstReceiverCalls(gstRoom, CALLS);
  const cold = [];
  for (let i = 0; i < COLD_CALLS; i++) cold.push(...await gstReceiverCalls(gstRoom, 1));
  await sender.stop();
  // A sender of its own, in a room of its own, for the pages.
  const pageViewedRoom = room('setup-gst-page');
  const sender2 = await startSender(pageViewedRoom);
  await sleep(1000);
  log('setup: gst -> browser');
  const gstBrowser = await pageReceiverCalls(pageViewedRoom, CALLS);
  await sender2.stop();

  // browser -> gst and browser -> browser: a page (Chromium's fake camera,
  // 640x480) is in the room.
  const pageRoom = room('setup-page');
  const host = await openBenchPage(browser, server, pageRoom, { name: 'host' });
  await waitJoined(host);
  await sleep(1000);
  log('setup: browser -> gst');
  const browserGst = await gstReceiverCalls(pageRoom, CALLS);
  log('setup: browser -> browser');
  const browserBrowser = await pageReceiverCalls(pageRoom, CALLS);
  await host.context().close();

  report.setup_ms = {
    gst_gst: summary(gstGst),
    gst_browser: summary(gstBrowser),
    browser_gst: summary(browserGst),
    browser_browser: summary(browserBrowser),
  };
  details.setup_ms = { gst_gst: gstGst, gst_gst_fresh_process: cold, gst_browser: gstBrowser, browser_gst: browserGst, browser_browser: browserBrowser };
  details.setup_fresh_process = summary(cold);
}

async function measureG2g() {
  const gstRoom = room('g2g-gst');
  const sender = await startSender(gstRoom);
  await sleep(500);
  log('glass-to-glass: gst -> gst');
  const recv = startPeer('recv', ['--server', wsUrl(), '--room', gstRoom, '--g2g', String(G2G_SECONDS)]);
  const g2gLine = await recv.waitFor((l) => Array.isArray(l.g2g_ms), (G2G_SECONDS + 40) * 1000);
  await recv.stop();
  await sleep(500);

  log('glass-to-glass: gst -> browser');
  const viewer = await openBenchPage(browser, server, gstRoom, { g2g: true, name: 'viewer' });
  await waitFirstFrame(viewer);
  await sleep((G2G_SECONDS + 1.2) * 1000);
  const gstBrowser = await readG2g(viewer);
  await viewer.context().close();
  await sender.stop();

  log('glass-to-glass: browser -> browser');
  const pageRoom = room('g2g-page');
  const host = await openBenchPage(browser, server, pageRoom, { stampSender: true, name: 'host' });
  await waitJoined(host);
  const viewer2 = await openBenchPage(browser, server, pageRoom, { g2g: true, name: 'viewer' });
  await waitFirstFrame(viewer2);
  await sleep((G2G_SECONDS + 1.2) * 1000);
  const browserBrowser = await readG2g(viewer2);
  await viewer2.context().close();
  await host.context().close();

  details.g2g_gst_gst_shown = summary(g2gLine.shown_ms);
  report.glass_to_glass_ms = {
    gst_gst: summary(g2gLine.g2g_ms),
    gst_browser: summary(gstBrowser.g2g),
    browser_browser: summary(browserBrowser.g2g),
  };
  details.glass_to_glass_ms = {
    gst_gst: { unreadable: g2gLine.unreadable, samples: g2gLine.g2g_ms, shown_by_synchronising_sink: g2gLine.shown_ms },
    gst_browser: { unreadable: gstBrowser.unreadable, samples: gstBrowser.g2g },
    browser_browser: { unreadable: browserBrowser.unreadable, samples: browserBrowser.g2g },
  };
}

async function measureCpu() {
  const cpuRoom = room('cpu');
  const sender = await startSender(cpuRoom, ['--stats', '5']);
  const receivers = [];
  const perTen = {};
  try {
    for (const viewers of VIEWERS) {
      while (receivers.length < viewers) {
        const recv = startPeer('recv', ['--server', wsUrl(), '--room', cpuRoom, '--hold']);
        receivers.push(recv);
        await recv.waitFor((l) => l.event === 'holding', 60000);
      }
      await sleep(2000);   // new viewers' key frames and ramp-up are not counted
      const before = sender.cpuSeconds();
      const started = performance.now();
      await sleep(CPU_SECONDS * 1000);
      const seconds = (performance.now() - started) / 1000;
      perTen[viewers] = Math.round(((sender.cpuSeconds() - before) * 10 / seconds) * 100) / 100;
      const stats = sender.lines.filter((l) => l.event === 'stats').at(-1);
      details.sender[viewers] = { cpu_s_per_10s: perTen[viewers], peers: stats?.peers, total_kbps: stats?.bitrate_kbps };
      log(`sender CPU with ${viewers} viewer(s): ${perTen[viewers]} s per 10 s`);
    }
  } finally {
    await Promise.all(receivers.map((r) => r.stop()));
    await sender.stop();
  }
  report.sender_cpu_s = perTen;
  report.sender_cpu_ratio_8_1 = Math.round((perTen[8] / perTen[1]) * 100) / 100;
}

// A relay-only TURN URI for the elements, with TURN REST credentials.
function turnUri(turn, secret, name) {
  const user = `${Math.floor(Date.now() / 1000) + 3600}:${name}`;
  const password = createHmac('sha1', secret).update(user).digest('base64');
  return `turn://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${turn.url.replace(/^turn:/, '')}`;
}

// What the viewers of one class saw between two of their watch lines
// (averaged over the viewers): fps, kbit/s received, freezes (gaps > 1 s).
function watchedClass(viewers, from, to) {
  const per = viewers.map((v) => {
    const a = v.lines.filter((l) => l.event === 'watch' && l.at_us >= from).at(0);
    const b = v.lines.filter((l) => l.event === 'watch' && l.at_us <= to).at(-1);
    const s = (b.at_us - a.at_us) / 1e6;
    return { fps: (b.frames - a.frames) / s, kbps: (b.bytes - a.bytes) * 8 / s / 1000, freezes: b.freezes - a.freezes };
  });
  const mean = (key) => Math.round((per.reduce((sum, p) => sum + p[key], 0) / per.length) * 10) / 10;
  return { fps: mean('fps'), kbps: mean('kbps'), freezes: per.reduce((sum, p) => sum + p.freezes, 0) };
}

async function measureAdaptive() {
  const secret = 'bench-adaptive-secret';
  const turn = await startCoturn(secret, { maxBps: CAP_BYTES_PER_SECOND });
  const adaptiveRoom = room('adaptive');
  const sender = await startSender(adaptiveRoom, ['--stats', '5', '--adaptive']);
  const direct = [];
  const capped = [];
  const cpu = {};
  const hold = async (list, extra) => {
    const recv = startPeer('recv', ['--server', wsUrl(), '--room', adaptiveRoom, '--hold', ...extra]);
    list.push(recv);
    await recv.waitFor((l) => l.event === 'holding', 60000);
  };
  const cpuOver = async () => {
    const before = sender.cpuSeconds();
    const from = Date.now() * 1000;
    await sleep(CPU_SECONDS * 1000);
    return { cpu: Math.round((sender.cpuSeconds() - before) * 10 / CPU_SECONDS * 100) / 100, from, to: Date.now() * 1000 };
  };
  try {
    await hold(direct, []);
    await sleep(ADAPTIVE_CONVERGE_MS);
    cpu[1] = (await cpuOver()).cpu;
    for (let i = 0; i < 4; i++) {
      await hold(capped, ['--turn-server', turnUri(turn, secret, `capped-${i}`)]);
      if (i < 3) await hold(direct, []);
    }
    await sleep(ADAPTIVE_CONVERGE_MS);
    const window = await cpuOver();
    cpu[8] = window.cpu;
    report.adaptive = {
      capped: watchedClass(capped, window.from, window.to),
      direct: watchedClass(direct, window.from, window.to),
    };
    report.adaptive.sender_cpu_ratio_8_1 = Math.round((cpu[8] / cpu[1]) * 100) / 100;
    details.adaptive = { sender_cpu_s: cpu, cap_bytes_per_second: CAP_BYTES_PER_SECOND, converge_ms: ADAPTIVE_CONVERGE_MS,
      sender_stats: sender.lines.filter((l) => l.event === 'stats').slice(-3) };
    log(`adaptive: ${JSON.stringify(report.adaptive)}`);
  } finally {
    await Promise.all([...direct, ...capped].map((r) => r.stop()));
    await sender.stop();
    await turn.stop();
  }
}

async function measureRelay() {
  const relay = await runRelay({ quick, log });
  report.relay = {};
  for (const key of Object.keys(SERVERS)) {
    const r = relay[key];
    report.relay[key] = {};
    for (const size of ['c100', 'c1000']) {
      if (r[size]) report.relay[key][size] = { msgs_per_s: r[size].msgs_per_s, p50_ms: r[size].p50_ms, p99_ms: r[size].p99_ms };
    }
    report.relay[key].idle_kib_per_conn = r.idle_kib_per_conn;
  }
  details.relay = relay;
  details.relay_table = relayTable(relay);
}

function versions() {
  const run = (cmd, args) => { try { return execFileSync(cmd, args, { encoding: 'utf8' }).trim(); } catch { return '?'; } };
  const cpuModel = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? '?';
  return {
    p2pcall: process.env.P2PCALL_VERSION ?? '?',
    gstreamer: run('gst-launch-1.0', ['--version']).split('\n')[1]?.replace('GStreamer ', '') ?? '?',
    chromium: browser?.version() ?? '?',
    node: process.version,
    cpus: os.cpus().length,
    cpu: cpuModel,
    kernel: os.release(),
    // Other work on the same cores lengthens the tails: say how busy they were.
    load_average: os.loadavg().map((x) => Math.round(x * 10) / 10),
  };
}

let failed = false;
try {
  server = await startServer({ args: ['--max-room-size', '16'] });
  if (wanted('setup') || wanted('g2g')) browser = await launchBrowser();
  for (const [part, fn] of [['setup', measureSetup], ['g2g', measureG2g], ['cpu', measureCpu], ['adaptive', measureAdaptive], ['relay', measureRelay]]) {
    if (!wanted(part)) continue;
    try {
      await fn();
    } catch (error) {
      failed = true;
      details.failures.push(`${part}: ${error.stack ?? error}`);
      log(`${part} failed: ${error.stack ?? error}`);
      await stopPeers();
    }
  }
  details.versions = versions();
} finally {
  await stopPeers();
  await stopAll();
}

details.finished = new Date().toISOString();
writeFileSync(path.join(outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(path.join(outDir, 'details.json'), `${JSON.stringify(details, null, 2)}\n`);
const tables = reportTables(report, details);
writeFileSync(path.join(outDir, 'report.md'), `${tables}\n`);
console.log(tables);
if (details.relay_table) console.log(`\n${details.relay_table}`);
if (details.failures.length) console.log(`\nNot measured or incomplete:\n- ${details.failures.join('\n- ')}`);
log(`done; ${path.join(outDir, 'report.json')}`);
process.exit(failed ? 1 : 0);
