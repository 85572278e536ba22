// Signalling relay benchmark: p2pcall-server and a Node.js `ws` server of
// the original protocol (seed-server.mjs) under the same load from one load
// generator, alternating server by server in one run.
//   node relay-bench.mjs [--quick]     (P2PCALL_SERVER: the server binary)
// Numbers only; nothing here passes or fails.
import { fileURLToPath } from 'node:url';
import { startP2pcall, startSeedServer, UNLIMITED } from './servers.mjs';
import { openPairs, closePairs, bounce } from './relay-load.mjs';

export const SERVERS = {
  p2pcall: { label: 'p2pcall-server', start: () => startP2pcall(UNLIMITED) },
  node_ws: { label: 'Node ws (seed protocol)', start: () => startSeedServer() },
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Returns { p2pcall: {c100: {...}, idle_kib_per_conn: {...}}, node_ws: ... }
// with the report's keys, plus `lost` and the sizes used.
export async function runRelay({ quick = false, log = () => {} } = {}) {
  const sizes = quick ? [100] : [100, 1000];
  const idleSizes = quick ? [1000] : [1000, 10000];
  const seconds = quick ? 2 : 5;
  const rounds = quick ? 1 : 2;
  const result = Object.fromEntries(Object.keys(SERVERS).map((k) => [k, { idle_kib_per_conn: {} }]));

  for (const n of sizes) {
    const runs = Object.fromEntries(Object.keys(SERVERS).map((k) => [k, []]));
    for (let round = 0; round < rounds; round++) {
      for (const [key, { start }] of Object.entries(SERVERS)) {
        const server = await start();
        try {
          const pairs = await openPairs(server.url, n);
          // A short warm-up (JIT, allocator) that is not counted.
          await bounce(pairs, 0.5);
          const figures = await bounce(pairs, seconds);
          closePairs(pairs);
          runs[key].push(figures);
          log(`relay ${key} ${n} connections round ${round + 1}: ${figures.messagesPerSecond.toFixed(0)} msg/s, p50 ${figures.p50.toFixed(2)} ms, p99 ${figures.p99.toFixed(2)} ms, lost ${figures.lost}`);
        } finally {
          await server.stop();
        }
      }
    }
    for (const [key, list] of Object.entries(runs)) {
      result[key][`c${n}`] = {
        msgs_per_s: Math.round(median(list.map((r) => r.messagesPerSecond))),
        p50_ms: round2(median(list.map((r) => r.p50))),
        p99_ms: round2(median(list.map((r) => r.p99))),
        lost: list.reduce((s, r) => s + r.lost, 0),
      };
    }
  }

  for (const n of idleSizes) {
    for (const [key, { start }] of Object.entries(SERVERS)) {
      const server = await start();
      try {
        await sleep(300);
        const before = server.rssKiB();
        const started = performance.now();
        const pairs = await openPairs(server.url, n);
        const openSeconds = (performance.now() - started) / 1000;
        await sleep(1000);
        const after = server.rssKiB();
        closePairs(pairs);
        result[key].idle_kib_per_conn[`c${n}`] = round2((after - before) / n);
        result[key][`open_s_c${n}`] = round2(openSeconds);
        log(`idle ${key} ${n} connections: RSS ${(before / 1024).toFixed(1)} -> ${(after / 1024).toFixed(1)} MiB, opened in ${openSeconds.toFixed(1)} s`);
      } finally {
        await server.stop();
      }
    }
  }
  return result;
}

function round2(x) {
  return Math.round(x * 100) / 100;
}

export function relayTable(relay) {
  const rows = ['| relay load | server | msg/s | p50 | p99 | lost |', '|---|---|---|---|---|---|'];
  for (const [key, { label }] of Object.entries(SERVERS)) {
    for (const [size, r] of Object.entries(relay[key])) {
      if (!/^c\d+$/.test(size)) continue;
      rows.push(`| ${size.slice(1)} connections | ${label} | ${r.msgs_per_s} | ${r.p50_ms} ms | ${r.p99_ms} ms | ${r.lost} |`);
    }
  }
  rows.push('', '| idle joined connections | server | KiB per connection | time to open them |', '|---|---|---|---|');
  for (const [key, { label }] of Object.entries(SERVERS)) {
    for (const [size, kib] of Object.entries(relay[key].idle_kib_per_conn)) {
      rows.push(`| ${size.slice(1)} | ${label} | ${kib} | ${relay[key][`open_s_${size}`]} s |`);
    }
  }
  return rows.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const relay = await runRelay({ quick: process.argv.includes('--quick'), log: (l) => console.error(l) });
  console.log(relayTable(relay));
}
