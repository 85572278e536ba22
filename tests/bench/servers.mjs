// Starts the two signalling servers the relay figures compare, on free
// loopback ports, and reads their memory.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function waitForLine(proc, pattern) {
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(pattern);
      if (m) resolve(m);
    });
    proc.once('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
}

function handle(proc, port, cleanup = () => {}) {
  return {
    port,
    url: `ws://127.0.0.1:${port}/`,
    pid: proc.pid,
    rssKiB() {
      const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
      return Number(status.match(/VmRSS:\s+(\d+)/)[1]);
    },
    async stop() {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
      cleanup();
    },
  };
}

// p2pcall-server; `extra` adds options (limits for a benchmark, say).
export async function startP2pcall(extra = []) {
  const webRoot = mkdtempSync(join(tmpdir(), 'p2pcall-bench-'));
  writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>bench</title>');
  const proc = spawn(process.env.P2PCALL_SERVER,
    ['--address', '127.0.0.1', '--port', '0', '--ice-server', 'none', '--web-root', webRoot, ...extra],
    { stdio: ['ignore', 'pipe', 'ignore'] });
  const m = await waitForLine(proc, /http:\/\/127\.0\.0\.1:(\d+)\//);
  return handle(proc, Number(m[1]), () => rmSync(webRoot, { recursive: true, force: true }));
}

// The Node.js ws server of the original app's protocol.
export async function startSeedServer() {
  const proc = spawn(process.execPath, [join(here, 'seed-server.mjs'), '0'],
    { stdio: ['ignore', 'pipe', 'ignore'] });
  const m = await waitForLine(proc, /listening on (\d+)/);
  return handle(proc, Number(m[1]));
}

// Limits off, so the benchmark measures relaying and not the rate limiter.
export const UNLIMITED = ['--max-connections-per-address', '100000',
  '--max-messages-per-second', '1000000', '--message-burst', '1000000'];
