#!/usr/bin/env bash
# Counts the Prometheus series fleetdns exports with 10,000 probed endpoints
# (2,000 profiles x 5 clusters; TCP probes every 10 s to 127.77.x.y:9, where nothing
# listens, so every endpoint ends Degraded) and 1,000 DNS answers spread over them.
# Usage: bash scripts/metrics-cardinality.sh [path/to/fleetdns]   (default target/release/fleetdns)
# Prints the series per metric name and the total. Loopback only; stops what it starts.
set -euo pipefail
bin=${1:-target/release/fleetdns}
profiles=${PROFILES:-2000}
clusters=5
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
python3 - "$profiles" "$clusters" > "$dir/fleet.yaml" <<'PY'
import sys
n, k = int(sys.argv[1]), int(sys.argv[2])
out = ["apiVersion: fleetdns.io/v1alpha1", "kind: FleetDNSConfig", "spec:", "  zone: tm.test",
       "  nameServers: [{name: ns1.tm.test, addresses: [127.0.0.1]}]", "  clusters:"]
for c in range(k):
    out.append(f"    - name: c{c}")
    out.append("      services:")
    for i in range(n):
        out.append(f"        - {{namespace: ns, name: s{i}, loadBalancer: ['127.77.{(c * n + i) >> 8}.{(c * n + i) & 255}']}}")
for i in range(n):
    out += ["---", "apiVersion: networking.fleet.azure.com/v1beta1", "kind: TrafficManagerProfile",
            f"metadata: {{name: p{i}, namespace: ns}}",
            "spec: {resourceGroup: rg, monitorConfig: {protocol: TCP, port: 9, intervalInSeconds: 10, timeoutInSeconds: 5, toleratedNumberOfFailures: 0}}",
            "---", "apiVersion: networking.fleet.azure.com/v1beta1", "kind: TrafficManagerBackend",
            f"metadata: {{name: p{i}, namespace: ns}}", f"spec: {{profile: {{name: p{i}}}, backend: {{name: s{i}}}, weight: 1}}",
            "---", "apiVersion: networking.fleet.azure.com/v1alpha1", "kind: ServiceExport",
            f"metadata: {{name: s{i}, namespace: ns}}"]
print("\n".join(out))
PY
"$bin" serve --config "$dir/fleet.yaml" --listen 127.0.0.1:25390 --admin 127.0.0.1:29390 2>"$dir/log" &
pid=$!
for _ in $(seq 100); do curl -sf 127.0.0.1:29390/readyz >/dev/null && break; sleep 0.2; done
for i in $(seq 0 $((1000 - 1))); do echo "ns-p$((i % profiles)).tm.test A"; done > "$dir/q"
dig @127.0.0.1 -p 25390 -f "$dir/q" +tries=1 +time=1 >/dev/null || true
# Every endpoint probed at least once (10 s interval, spread with jitter), then one sampling tick.
sleep 25
curl -s 127.0.0.1:29390/metrics > "$dir/metrics"
grep -v '^#' "$dir/metrics" | sed -E 's/[{ ].*//; s/_(bucket|sum|count)$//' | sort | uniq -c | sort -rn | awk '{ print; t += $1 } END { print t, "series in total" }'
