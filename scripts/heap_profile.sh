#!/usr/bin/env bash
# Where fleetdns's heap goes while it serves a config, and at its peak while loading, by function.
#
#   cargo build --release --no-default-features -p fleetdns   # the system allocator: heaptrack sees it
#   scripts/heap_profile.sh target/release/fleetdns /tmp/c10k.yaml [127.0.77.9]
#
# Runs the binary under heaptrack on loopback, waits for its first answer (at most 200 s) and 15 s
# more (readiness from the admin /readyz), then SIGKILLs it (by PID), so heaptrack's "leaked" is what was live while serving. Prints
# both breakdowns (scripts/heap_agg.py). At 100k profiles heaptrack slows loading ~10x; 10k
# (`scripts/bench_helper.py gen-scale --n 10000`) scales linearly. Needs heaptrack and curl.
set -euo pipefail
bin=${1:?binary}; config=${2:?config}; addr=${3:-127.0.77.9}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d /tmp/fleetdns-heap.XXXXXX)
heaptrack -o "$out/heap" "$bin" serve --config "$config" --listen "$addr:5399" --admin "$addr:9399" \
    >"$out/log" 2>&1 &
wrapper=$!
for _ in $(seq 1 100); do
    sleep 2
    curl -sf "http://$addr:9399/readyz" >/dev/null && break
done
sleep 15
pid=$(pgrep -f -- "$bin serve --config $config" | tail -1)
grep -E "VmRSS|VmHWM" "/proc/$pid/status" || true
kill -9 "$pid"
wait "$wrapper" || true
data=$(ls "$out"/heap*.zst)
for cost in leaked peak; do
    heaptrack_print -f "$data" --print-leaks 0 --print-peaks 0 --print-allocators 0 --print-temporary 0 \
        --print-histogram 0 --flamegraph-cost-type "$cost" -F "$out/$cost.fg" >/dev/null 2>&1
done
echo "== live while serving"; python3 "$here/heap_agg.py" "$out/leaked.fg" 25
echo "== at the heap's peak"; python3 "$here/heap_agg.py" "$out/peak.fg" 10
echo "(data in $out)"
