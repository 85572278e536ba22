// WebSocket spoken by hand over a TCP socket, for tests that must send what
// no well-behaved client library would: half-sent handshakes, fragments
// without end, compressed frames nobody negotiated.
import net from 'node:net';

// A raw TCP client that does the WebSocket handshake itself; resolves with
// the socket and the response head once the server answered.
export function rawWebSocket(port, extraHeaders = '') {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let head = '';
    socket.once('error', reject);
    socket.on('connect', () => {
      socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        `Sec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`);
    });
    const onData = (chunk) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const rest = Buffer.from(head.slice(end + 4), 'latin1');
      resolve({ socket, head: head.slice(0, end), rest });
    };
    socket.on('data', onData);
  });
}

// One masked client frame (mask of zeros: the payload goes as it is).
export function frame(opcode, payload, { fin = true, rsv1 = false } = {}) {
  const len = payload.length;
  const header = [(fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode];
  if (len < 126) header.push(0x80 | len);
  else if (len < 65536) header.push(0x80 | 126, len >> 8, len & 0xff);
  else {
    header.push(0x80 | 127, 0, 0, 0, 0);
    header.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  }
  return Buffer.concat([Buffer.from(header), Buffer.alloc(4), payload]);
}

// The close code of the first close frame the server sends, or null when
// the socket ends without one.
export function closeCode(socket, already = Buffer.alloc(0)) {
  return new Promise((resolve) => {
    let buf = already;
    const scan = () => {
      while (buf.length >= 2) {
        const opcode = buf[0] & 0x0f;
        let len = buf[1] & 0x7f;
        let at = 2;
        if (len === 126) { len = buf.readUInt16BE(2); at = 4; }
        if (buf.length < at + len) return;
        if (opcode === 8) { resolve(len >= 2 ? buf.readUInt16BE(at) : null); return; }
        buf = buf.subarray(at + len);
      }
    };
    socket.on('data', (chunk) => { buf = Buffer.concat([buf, chunk]); scan(); });
    socket.on('close', () => resolve(null));
    socket.on('error', () => {});
    scan();
  });
}

export function writeAll(socket, data) {
  return new Promise((resolve) => {
    if (socket.destroyed) { resolve(false); return; }
    socket.write(data, (err) => resolve(!err));
  });
}

