// Runs p2pcall-bench-peer (bench-peer.cpp) processes and reads their JSON
// lines. Every process started here is stopped by stopPeers() or at exit.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const running = new Set();

function requireEnv(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run the benchmarks through meson test --benchmark)`);
  return value;
}

// Starts `p2pcall-bench-peer MODE ...args`. The returned handle has
// lines (parsed JSON so far), waitFor(predicate, timeoutMs), cpuSeconds()
// and stop(). Its stdin stays open: closing it (or our exit) ends it.
export function startPeer(mode, args) {
  const child = spawn(requireEnv('P2PCALL_BENCH_PEER'), [mode, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const peer = {
    child,
    pid: child.pid,
    lines: [],
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  let partial = '';
  const waiters = new Set();
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    partial += chunk;
    let nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const text = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      try { peer.lines.push(JSON.parse(text)); } catch { peer.stderr += `${text}\n`; }
      for (const w of waiters) w();
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    peer.stderr = (peer.stderr + chunk).slice(-8000);
  });
  child.once('exit', () => { for (const w of waiters) w(); });

  // Resolves with the first line matching @predicate.
  peer.waitFor = (predicate, timeoutMs = 30000) => new Promise((resolve, reject) => {
    const check = () => {
      const found = peer.lines.find(predicate);
      if (found) { done(); resolve(found); return; }
      if (child.exitCode !== null || child.signalCode !== null) {
        done();
        reject(new Error(`bench peer ${mode} exited (${child.exitCode ?? child.signalCode}):\n${peer.stderr}`));
      }
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`bench peer ${mode}: timed out after ${timeoutMs} ms:\n${peer.stderr}`));
    }, timeoutMs);
    const done = () => { clearTimeout(timer); waiters.delete(check); };
    waiters.add(check);
    check();
  });
  // utime + stime of the process so far, in seconds (/proc/PID/stat).
  peer.cpuSeconds = () => {
    const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  };
  peer.stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.kill('SIGTERM');
      await peer.exited;
      clearTimeout(timer);
    }
    running.delete(peer);
  };
  running.add(peer);
  return peer;
}

export async function stopPeers() {
  await Promise.all([...running].map((p) => p.stop()));
}

process.on('exit', () => {
  for (const peer of running) peer.child.kill('SIGKILL');
});
