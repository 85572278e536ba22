#!/bin/bash
# Builds the registry fuzzer with clang (libFuzzer + ASan + UBSan) and runs
# it for SECONDS (default 20) over a copy of the corpus in tests/fuzz/corpus.
# Longer, by hand:  tests/fuzz/run-fuzz.sh 3600 /tmp/fuzz-work
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
seconds=${1:-20}
work=${2:-$(mktemp -d)}
mkdir -p "$work/corpus"
cp "$here"/corpus/* "$work/corpus/" 2>/dev/null || true

# The registry counts into server/metrics (which serves with libsoup and
# formats with server/config); tokens are checked with libjwt.
flags=$(pkg-config --cflags --libs glib-2.0 json-glib-1.0 libsoup-3.0 libjwt)
clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined -DG_LOG_DOMAIN='"p2pcall-fuzz"' \
  -I"$src/protocol" -I"$src/server" \
  "$here/fuzz-room-registry.cpp" "$src/server/room_registry.cpp" \
  "$src/server/access_token.cpp" "$src/server/metrics.cpp" \
  "$src/server/config.cpp" "$src/protocol/protocol.cpp" \
  $flags -o "$work/fuzz-room-registry"

# Join/leave log lines would flood the output.
G_MESSAGES_DEBUG= "$work/fuzz-room-registry" -max_total_time="$seconds" \
  -max_len=4096 -print_final_stats=1 "$work/corpus" 2>&1 \
  | grep -v -- '-Message: ' | tail -n 25
