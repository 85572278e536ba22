#!/usr/bin/env python3
"""The C++ and Python embedding examples in one room through p2pcall-server:
each sees the other join, the C++ one (sending) and the Python one
(receiving) print connected stats with traffic, and when the Python one is
interrupted it leaves cleanly and the C++ one sees it go."""
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

TIMEOUT = 30


class Process:
    """A child whose stdout lines are read on a thread."""

    def __init__(self, name, argv):
        self.name = name
        self.lines = queue.Queue()
        self.seen = []
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern, timeout=TIMEOUT):
        """The first stdout line matching pattern (a regex), or fail."""
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            m = re.search(pattern, line)
            if m:
                return m
        fail(f"{self.name} never printed /{pattern}/; it printed: {self.seen[-10:]}; "
             f"stderr: {self.stderr_tail()}")

    def stderr_tail(self):
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read()[-2000:]

    def stop(self, sig=signal.SIGINT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def fail(message):
    print(f"FAIL: {message}")
    for p in children:
        p.stop(signal.SIGKILL)
    sys.exit(1)


children = []


def main():
    web_root = tempfile.mkdtemp(prefix="p2pcall-examples-")
    with open(os.path.join(web_root, "index.html"), "w") as f:
        f.write("<!doctype html>")
    server = Process("p2pcall-server", [
        os.environ["P2PCALL_SERVER"], "--address", "127.0.0.1", "--port", "0",
        "--ice-server", "none", "--web-root", web_root])
    children.append(server)
    port = server.wait_for(r"http://127\.0\.0\.1:(\d+)/").group(1)
    url = f"ws://127.0.0.1:{port}/ws"

    cpp = Process("C++ example", [os.environ["P2PCALL_CALL_APP"], "--server", url,
                                  "--room", "embedding", "--name", "cpp"])
    children.append(cpp)
    cpp_id = cpp.wait_for(r"^joined embedding as (\S+)").group(1)
    py = Process("Python example", [os.environ["P2PCALL_PYTHON_GI"], os.environ["P2PCALL_CALL_APP_PY"],
                                    "--server", url, "--room", "embedding", "--name", "py"])
    children.append(py)
    py_id = py.wait_for(r"^joined embedding as (\S+)").group(1)

    cpp.wait_for(rf"^peer-joined {re.escape(py_id)}$")
    py.wait_for(rf"^peer-joined {re.escape(cpp_id)}$")
    # Media flows: both see a connected peer with traffic in the stats.
    cpp.wait_for(rf"^stats {re.escape(py_id)} state=connected bitrate=[1-9]\d*")
    py.wait_for(rf"^stats {re.escape(cpp_id)} state=connected bitrate=[1-9]\d*")

    code = py.stop(signal.SIGINT)
    if code != 0:
        fail(f"the Python example exited with {code} on Ctrl-C: {py.stderr_tail()}")
    cpp.wait_for(rf"^peer-left {re.escape(py_id)}$")
    code = cpp.stop(signal.SIGINT)
    if code != 0:
        fail(f"the C++ example exited with {code} on Ctrl-C: {cpp.stderr_tail()}")
    server.stop(signal.SIGTERM)
    os.remove(os.path.join(web_root, "index.html"))
    os.rmdir(web_root)
    print("ok: the C++ and Python examples called each other, printed stats and left")


if __name__ == "__main__":
    main()
