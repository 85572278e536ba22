#!/usr/bin/env python3
"""Under systemd, p2pcall-server's log lines reach the journal with their
fields (EVENT=, ROOM=, PEER=, ...). Stand-in journal sockets in a private
mount namespace receive what a member's join logs, over GLib's native
journal protocol. Usage (inside netns-run.sh):
unshare -m journal_test.py SERVER WEB_ROOT"""
import base64
import json
import os
import socket
import struct
import subprocess
import sys

server_exe, web_root = sys.argv[1], sys.argv[2]


def journal_fields(datagram):
    """KEY=value lines, or KEY, a little-endian 64-bit length and the bytes."""
    fields, i = {}, 0
    while i < len(datagram):
        end = datagram.index(b'\n', i)
        line = datagram[i:end]
        if b'=' in line:
            key, value = line.split(b'=', 1)
            i = end + 1
        else:
            size = struct.unpack('<Q', datagram[end + 1:end + 9])[0]
            key, value = line, datagram[end + 9:end + 9 + size]
            i = end + 9 + size + 1
        fields[key.decode()] = value.decode()
    return fields


def websocket_join(port, room):
    """Joins @room over a minimal WebSocket client; returns the peer id."""
    conn = socket.create_connection(('127.0.0.1', port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    conn.sendall((f'GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n'
                  'Upgrade: websocket\r\nConnection: Upgrade\r\n'
                  f'Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n').encode())
    reply = b''
    while b'\r\n\r\n' not in reply:
        reply += conn.recv(4096)
    assert reply.startswith(b'HTTP/1.1 101'), reply
    rest = reply.split(b'\r\n\r\n', 1)[1]
    payload = json.dumps({'type': 'join-room', 'roomId': room}).encode()
    mask = os.urandom(4)
    conn.sendall(bytes([0x81, 0x80 | len(payload)]) + mask +
                 bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    while True:
        while len(rest) < 4:
            rest += conn.recv(4096)
        size, start = rest[1] & 0x7f, 2
        if size == 126:
            size, start = struct.unpack('>H', rest[2:4])[0], 4
        while len(rest) < start + size:
            rest += conn.recv(4096)
        message = json.loads(rest[start:start + size])
        rest = rest[start + size:]
        if message['type'] == 'joined':
            return conn, message['id']


def main():
    # A tmpfs over /run/systemd in this mount namespace only.
    subprocess.run(['mount', '-t', 'tmpfs', 'tmpfs', '/run/systemd'], check=True)
    os.makedirs('/run/systemd/journal')
    journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    journal.bind('/run/systemd/journal/socket')
    journal.settimeout(20)

    # stderr connected to the journal's stream socket, as systemd connects a
    # unit's: that is how GLib tells it may use the native protocol.
    stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stream.bind('/run/systemd/journal/stdout')
    stream.listen(1)
    stderr = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stderr.connect('/run/systemd/journal/stdout')
    server = subprocess.Popen(
        [server_exe, '--address', '127.0.0.1', '--port', '0', '--ice-server', 'none',
         '--web-root', web_root],
        stdout=subprocess.PIPE, stderr=stderr.fileno(), text=True)
    stderr.close()
    try:
        line = server.stdout.readline()
        port = int(line.split('http://127.0.0.1:')[1].split('/')[0])
        conn, peer = websocket_join(port, 'journal')
        while True:
            fields = journal_fields(journal.recv(65536))
            if fields.get('EVENT') == 'join':
                break
        assert fields['ROOM'] == 'journal', fields
        assert fields['PEER'] == peer, fields
        assert fields['MEMBERS'] == '1', fields
        assert fields['MESSAGE'].startswith('join room=journal'), fields
        assert fields['GLIB_DOMAIN'] == 'p2pcall-server', fields
        conn.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    print('journal fields:', {k: fields[k] for k in ('EVENT', 'ROOM', 'PEER', 'MEMBERS')})


main()
