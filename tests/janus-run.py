#!/usr/bin/env python3
"""Starts real Janus instances (Debian `janus`), runs a command, stops them.

    netns-run.sh --test-host python3 janus-run.py [--instances N] COMMAND...

Run inside a test's own network namespace with a test host (Janus's libnice
skips loopback, so it gathers on the test host's tap0). Each instance gets a
config folder of its own, written from the sample configuration in
server/janus/ with this run's ports, folder and a fresh API secret, and its
own RTP port range. The command sees:

    P2PCALL_JANUS_URLS        ws://127.0.0.1:PORT,... (one per instance)
    P2PCALL_JANUS_PIDS        their process ids, in the same order
    P2PCALL_JANUS_API_SECRET  the secret every instance requires

Exits with the command's status; the instances and their folders are gone
by then (SIGTERM, then SIGKILL after 5 s).
"""
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server", "janus")
RTP_PORTS_PER_INSTANCE = 400
FIRST_RTP_PORT = 40000
STARTUP_SECONDS = 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def set_value(text, key, value):
    """Replaces `key = ...` in a .jcfg (the sample has each key once)."""
    new, count = re.subn(r"^(\s*#?\s*)%s\s*=.*$" % key,
                         lambda m: "  %s = %s" % (key, value), text, count=1, flags=re.M)
    if count != 1:
        sys.exit("janus-run: %s not found in the sample configuration" % key)
    return new


def write_config(folder, index, ws_port, api_secret):
    for name in os.listdir(SAMPLE_DIR):
        with open(os.path.join(SAMPLE_DIR, name)) as f:
            text = f.read()
        if name == "janus.jcfg":
            low = FIRST_RTP_PORT + index * RTP_PORTS_PER_INSTANCE
            text = set_value(text, "configs_folder", '"%s"' % folder)
            text = set_value(text, "api_secret", '"%s"' % api_secret)
            text = set_value(text, "rtp_port_range", '"%d-%d"' % (low, low + RTP_PORTS_PER_INSTANCE - 1))
            text = set_value(text, "ice_enforce_list", '"tap0"')
        elif name == "janus.transport.websockets.jcfg":
            text = set_value(text, "ws_port", str(ws_port))
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)


def wait_listening(port, process, log_path):
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    with open(log_path, errors="replace") as f:
        tail = f.read()[-3000:]
    sys.exit("janus-run: Janus did not start listening on port %d:\n%s" % (port, tail))


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv):
    instances = 1
    if argv[:1] == ["--instances"]:
        instances = int(argv[1])
        argv = argv[2:]
    if not argv:
        sys.exit(__doc__)
    api_secret = secrets.token_hex(16)
    base = tempfile.mkdtemp(prefix="p2pcall-janus-")
    processes, urls = [], []
    try:
        for index in range(instances):
            folder = os.path.join(base, str(index))
            os.mkdir(folder)
            port = free_port()
            write_config(folder, index, port, api_secret)
            log_path = os.path.join(folder, "janus.log")
            log = open(log_path, "w")
            process = subprocess.Popen(
                ["janus", "-o", "-F", folder, "-C", os.path.join(folder, "janus.jcfg")],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            processes.append(process)
            wait_listening(port, process, log_path)
            urls.append("ws://127.0.0.1:%d" % port)
        env = dict(os.environ,
                   P2PCALL_JANUS_URLS=",".join(urls),
                   P2PCALL_JANUS_PIDS=",".join(str(p.pid) for p in processes),
                   P2PCALL_JANUS_API_SECRET=api_secret)
        command = subprocess.Popen(argv, env=env)
        signal.signal(signal.SIGTERM, lambda *_: command.terminate())
        return command.wait()
    finally:
        for process in processes:
            stop(process)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
