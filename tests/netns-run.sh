#!/bin/sh
# Runs a command in a private network namespace of its own with only
# loopback up: whatever the test starts can reach nothing outside it, and
# parallel tests cannot see each other's ports.
exec unshare -rn sh -c 'ip link set lo up && exec "$@"' netns-run "$@"
