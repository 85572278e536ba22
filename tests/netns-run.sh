#!/bin/sh
# Runs a command in a private network namespace of its own with only
# loopback up: whatever the test starts can reach nothing outside it, and
# parallel tests cannot see each other's ports.
#
# netns-run.sh --test-host COMMAND...: the namespace also gets a test host
# (tests/testhost.py: a tap device with 198.51.100.1 and a default route into
# it, gone when COMMAND ends), for browsers that gather no ICE candidate on
# loopback (Firefox). $P2PCALL_TEST_HOST tells the command the address.
if [ "$1" = "--test-host" ]; then
  shift
  exec unshare -rn python3 "$(dirname "$0")/testhost.py" "$@"
fi
exec unshare -rn sh -c 'ip link set lo up && exec "$@"' netns-run "$@"
