// gst-launch-1.0 pipelines for the GStreamer <-> browser tests: run with the
// build's plugin (GST_PLUGIN_PATH_1_0 from meson), output kept for matching,
// stopped at exit.
import { spawn } from 'node:child_process';

const running = new Set();

// Runs gst-launch-1.0 -v -m (caps and bus messages on stdout) with
// @description split on spaces. Returns { child, output }.
export function launch(description) {
  const child = spawn('gst-launch-1.0', ['-v', '-m', ...description.split(' ')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env },
  });
  const run = { child, output: '' };
  child.stdout.setEncoding('utf8').on('data', (c) => { run.output += c; });
  child.stderr.setEncoding('utf8').on('data', (c) => { run.output += c; });
  running.add(child);
  child.on('exit', () => running.delete(child));
  return run;
}

// Resolves with the match once @regexp matches the output of @run.
export function waitOutput(run, regexp, timeout = 30000) {
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const match = regexp.exec(run.output);
      if (match) { clearInterval(timer); clearTimeout(limit); resolve(match); }
    }, 100);
    const limit = setTimeout(() => {
      clearInterval(timer);
      reject(new Error(`no ${regexp} in gst-launch output:\n${run.output.slice(-4000)}`));
    }, timeout);
  });
}

// Occurrences of @regexp (with the g flag) in the output of @run.
export function countOutput(run, regexp) {
  return (run.output.match(regexp) ?? []).length;
}

// Ctrl-C for @child, then SIGKILL if it is still there after @graceMs: a
// gst-launch that crashed spins in its SIGSEGV handler and would hold the
// test until meson's timeout. Resolves when it has exited.
export function stopProcess(child, graceMs = 5000) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGINT');
  });
}

// stopProcess for every pipeline launched.
export function stopPipelines(graceMs = 5000) {
  return Promise.all([...running].map((child) => stopProcess(child, graceMs)));
}

process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
