// The reference the relay benchmark compares p2pcall-server with: a Node.js
// `ws` signalling server speaking the original app's protocol the way that
// app's users run it (rooms, user-joined broadcast, relay to the others in
// the room, user-disconnected). Written here for the benchmark.
//   node seed-server.mjs PORT   (0: any free port; prints "listening on PORT")
import { WebSocketServer } from 'ws';

const rooms = new Map();          // roomId -> Set of sockets
let nextId = 1;

const wss = new WebSocketServer({ port: Number(process.argv[2] ?? 8080), host: '127.0.0.1' });

function broadcast(room, except, msg) {
  const text = JSON.stringify(msg);
  for (const peer of rooms.get(room) ?? []) if (peer !== except) peer.send(text);
}

wss.on('connection', (ws) => {
  ws.userId = `user${nextId++}`;
  ws.on('message', (data) => {
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    if (msg.type === 'join-room') {
      ws.roomId = msg.roomId;
      if (!rooms.has(msg.roomId)) rooms.set(msg.roomId, new Set());
      rooms.get(msg.roomId).add(ws);
      const roomUsers = [...rooms.get(msg.roomId)].map((p) => p.userId);
      broadcast(msg.roomId, ws, { type: 'user-joined', from: ws.userId, roomUsers });
    } else if (['offer', 'answer', 'ice-candidate'].includes(msg.type) && ws.roomId) {
      broadcast(ws.roomId, ws, { ...msg, from: ws.userId });
    }
  });
  ws.on('close', () => {
    const room = rooms.get(ws.roomId);
    if (!room) return;
    room.delete(ws);
    if (room.size === 0) rooms.delete(ws.roomId);
    else broadcast(ws.roomId, ws, { type: 'user-disconnected', from: ws.userId });
  });
});

wss.on('listening', () => console.log(`listening on ${wss.address().port}`));
