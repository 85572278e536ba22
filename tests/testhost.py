#!/usr/bin/env python3
"""Gives a fresh network namespace a test host, then runs a command in it.

Firefox gathers no ICE candidate on loopback, nor in a namespace without a
default route. This makes the namespace look like a host on a LAN: a tap
device (held open by this process, so it exists exactly as long as the
command runs) with TEST_HOST_ADDRESS on it and a default route into it.
Traffic to TEST_HOST_ADDRESS stays inside the namespace; anything else goes
into the tap, which nobody reads, so nothing leaves it.

Run inside tests/netns-run.sh (it calls this for --test-host); the command
sees P2PCALL_TEST_HOST=198.51.100.1 in its environment. Exits with the
command's status.
"""
import fcntl
import os
import signal
import struct
import subprocess
import sys

# RFC 5737 documentation range (TEST-NET-2): never a real host.
TEST_HOST_ADDRESS = "198.51.100.1"
PREFIX_LENGTH = 24
GATEWAY = "198.51.100.254"
DEVICE = "tap0"

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


def open_tap(name):
    """Opens a tap device called @name; it lives while the fd is open."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    ifreq = struct.pack("16sH22x", name.encode(), IFF_TAP | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifreq)
    return fd


def ip(*args):
    subprocess.run(["ip", *args], check=True)


def main(argv):
    if not argv:
        sys.exit("usage: testhost.py COMMAND [ARG...] (inside a network namespace)")
    try:
        tap = open_tap(DEVICE)
    except OSError as error:
        sys.exit(f"testhost.py: cannot create tap device {DEVICE} "
                 f"(/dev/net/tun): {error}")
    ip("link", "set", "lo", "up")
    # An IPv4-only LAN host: with the tap's IPv6 link-local address, media
    # from Chromium to Firefox stopped after about one ICE restart (offered
    # by Firefox) in three.
    with open(f"/proc/sys/net/ipv6/conf/{DEVICE}/disable_ipv6", "w") as knob:
        knob.write("1")
    ip("addr", "add", f"{TEST_HOST_ADDRESS}/{PREFIX_LENGTH}", "dev", DEVICE)
    ip("link", "set", DEVICE, "up")
    ip("route", "add", "default", "via", GATEWAY, "dev", DEVICE)

    env = dict(os.environ, P2PCALL_TEST_HOST=TEST_HOST_ADDRESS)
    child = subprocess.Popen(argv, env=env)
    # Pass termination on to the command, then close the tap with it.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: child.send_signal(signum))
    status = child.wait()
    os.close(tap)
    sys.exit(status if status >= 0 else 128 - status)


if __name__ == "__main__":
    main(sys.argv[1:])
