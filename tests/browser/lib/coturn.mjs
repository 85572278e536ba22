// A real coturn (Debian's turnserver) on 127.0.0.1 for relay tests, with
// TURN REST credentials (use-auth-secret) and relaying between loopback
// peers; its log says which allocations it granted.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.on('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

// Resolves { url, log(), stop() } once coturn listens. @maxBps caps each
// relayed session at that many bytes per second (a narrow link).
export async function startCoturn(secret, { maxBps = 0 } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'p2pcall-coturn-'));
  const port = await freeUdpPort();
  const minPort = port < 60000 ? port + 1 : 40000;  // this namespace's own
  const logFile = path.join(dir, 'turn.log');
  const child = spawn('turnserver', [
    '-n', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`,
    `--min-port=${minPort}`, `--max-port=${minPort + 200}`, '--use-auth-secret',
    `--static-auth-secret=${secret}`, '--realm=p2pcall.test', '--allow-loopback-peers',
    '--no-cli', '--no-tls', '--no-dtls', '-v', '--simple-log', `--log-file=${logFile}`,
    `--pidfile=${path.join(dir, 'turnserver.pid')}`, `--userdb=${path.join(dir, 'turndb')}`,
    ...(maxBps ? [`--max-bps=${maxBps}`] : []),
  ], { stdio: 'ignore' });
  const log = () => { try { return readFileSync(logFile, 'utf8'); } catch { return ''; } };
  const stop = () => new Promise((resolve) => {
    const done = () => { rmSync(dir, { recursive: true, force: true }); resolve(); };
    if (child.exitCode !== null || child.signalCode !== null) { done(); return; }
    child.once('exit', done);
    child.kill('SIGKILL');
  });
  process.on('exit', () => child.kill('SIGKILL'));
  const deadline = Date.now() + 20000;
  while (!log().includes('Total General servers')) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`coturn did not start:\n${log()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url: `turn:127.0.0.1:${port}`, port, log, stop };
}
