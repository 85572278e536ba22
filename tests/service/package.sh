#!/bin/sh
# Builds the Debian packages from a copy of the tree (the checkout stays
# clean), unpacks them with dpkg-deb -x and runs what they hold: the server
# with the packaged config file, serving the packaged page; the systemd unit
# through systemd-analyze verify; the plugin through gst-inspect-1.0. lintian
# must report no errors. Usage: package.sh SOURCE_ROOT (run in netns-run.sh).
set -eu
source_root=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/p2pcall-package-XXXXXX")
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "package: $*" >&2; exit 1; }

# The source without build trees, node_modules or version control.
mkdir "$work/p2pcall"
tar -C "$source_root" --exclude-vcs --exclude='./build*' --exclude='./obj-*' \
  --exclude=./tests/node_modules --exclude=./debian/.debhelper -cf - . |
  tar -C "$work/p2pcall" -xf -
echo "package: building (a few minutes on 2 cores)"
if ! (cd "$work/p2pcall" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
      dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1); then
  tail -40 "$work/build.log" >&2
  fail "dpkg-buildpackage failed"
fi
server_deb=$(ls "$work"/p2pcall-server_*.deb)
plugin_deb=$(ls "$work"/gstreamer1.0-p2pcall_*.deb)
root=$work/root
dpkg-deb -x "$server_deb" "$root"
dpkg-deb -x "$plugin_deb" "$root"

# The config file lists every option, commented, with its default: it is
# what the packaged binary prints for an empty configuration.
conf=$root/etc/p2pcall/p2pcall-server.conf
[ -f "$conf" ] || fail "no /etc/p2pcall/p2pcall-server.conf in $server_deb"
dpkg-deb --info "$server_deb" conffiles | grep -qx /etc/p2pcall/p2pcall-server.conf ||
  fail "/etc/p2pcall/p2pcall-server.conf is not a conffile"
grep -qx '#port = 8080' "$conf" || fail "the config file has no '#port = 8080'"
env -u PORT "$root/usr/bin/p2pcall-server" --print-config | cmp -s - "$conf" ||
  fail "the packaged config file differs from --print-config"

# The server runs from the unpacked tree with the packaged config and page.
"$root/usr/bin/p2pcall-server" --config "$conf" --address 127.0.0.1 --port 0 \
  --web-root "$root/usr/share/p2pcall/web" >"$work/server.out" 2>&1 &
server_pid=$!
tries=0
until url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$work/server.out"); do
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.out" >&2; fail "the server exited"; }
  tries=$((tries + 1)); [ $tries -lt 100 ] || fail "the server did not listen"
  sleep 0.1
done
python3 - "$url" <<'PY' || fail "the packaged page was not served at $url"
import sys, urllib.request
page = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
assert '<script type="module"' in page, page[:200]
PY
kill -TERM "$server_pid"
wait "$server_pid" || fail "the server did not exit cleanly on SIGTERM"
server_pid=

# The unit, with ExecStart pointed at the unpacked binary (verify checks
# that the program exists).
unit=$work/p2pcall-server.service
sed "s|/usr/bin/p2pcall-server|$root/usr/bin/p2pcall-server|" \
  "$root/lib/systemd/system/p2pcall-server.service" >"$unit"
for setting in DynamicUser=yes ProtectSystem=strict NoNewPrivileges=yes StateDirectory=p2pcall; do
  grep -qx "$setting" "$unit" || fail "the unit lacks $setting"
done
systemd-analyze verify "$unit" || fail "systemd-analyze verify failed"
# The sandbox as systemd scores it: exposure at most 2.0 of 10 (1.5 today).
systemd-analyze security --offline=true --threshold=20 "$unit" >"$work/security.out" 2>&1 ||
  { tail -5 "$work/security.out" >&2; fail "the unit's sandbox scores above 2.0"; }

# The plugin from the unpacked tree; the system's plugins only for what it
# uses; a registry of its own.
plugin_dir=$(dirname "$(find "$root/usr/lib" -name libgstp2pcall.so)")
GST_REGISTRY_1_0=$work/registry.bin GST_PLUGIN_PATH_1_0=$plugin_dir \
  gst-inspect-1.0 p2pcallsink >"$work/inspect.out" 2>&1 ||
  { cat "$work/inspect.out" >&2; fail "gst-inspect-1.0 p2pcallsink failed"; }
grep -q "$plugin_dir/libgstp2pcall.so" "$work/inspect.out" ||
  fail "gst-inspect-1.0 did not load the unpacked plugin"

lintian --fail-on error "$work"/*.changes || fail "lintian reports errors"
echo "package: ok ($(basename "$server_deb"), $(basename "$plugin_deb"))"
