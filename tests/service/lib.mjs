// What the service tests share: WebSocket members and waiting for the
// server to print something.
import WebSocket from 'ws';

// A member whose incoming messages can be awaited by type. Over wss it
// takes the test's self-signed certificate. @headers go into the handshake
// (a User-Agent, say).
export async function member(server, { headers = {} } = {}) {
  const scheme = server.url.startsWith('https:') ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://127.0.0.1:${server.port}/ws`, { rejectUnauthorized: false, headers });
  const inbox = [];
  let wake = () => {};
  ws.on('message', (data) => { inbox.push(JSON.parse(data)); wake(); });
  const closed = new Promise((resolve) => { ws.once('close', (code) => resolve(code)); });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  return {
    ws,
    closed, // resolves with the close code

    send: (msg) => ws.send(JSON.stringify(msg)),
    async receive(type) {
      for (;;) {
        const i = inbox.findIndex((m) => m.type === type);
        if (i >= 0) return inbox.splice(i, 1)[0];
        await new Promise((resolve) => { wake = resolve; });
      }
    },
  };
}

// Resolves with the match once the server's output (stdout and stderr)
// matches @regexp; the test's own timeout bounds the wait.
export async function waitOutput(server, regexp) {
  for (;;) {
    const match = regexp.exec(server.output());
    if (match) return match;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
