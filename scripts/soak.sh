#!/usr/bin/env bash
# fleetdns soak test (issue 8): keeps dnsperf load running for 10 minutes while the
# config is rewritten (and so reloaded) every second and the backends flap (one of
# four demo backends is killed, and restarted a few seconds later, in turn). Then it
# reports queries lost, RSS growth and errors. Not part of the test suite.
#
#   bash scripts/soak.sh                      # 10 minutes
#   SOAK_SECONDS=60 bash scripts/soak.sh      # a quick check
#
# Environment:
#   SOAK_SECONDS   length of the load (default 600)
#   SOAK_QPS       dnsperf rate cap, queries per second (default 3000)
#   SOAK_FLAP      seconds between backend flaps (default 5)
#   SOAK_NO_BUILD  1: use target/release/fleetdns as it is
#   SOAK_BIN       use this binary instead (no build), e.g. target/debug/fleetdns
#   SOAK_OUT       results directory (default: a new /tmp/fleetdns-soak.XXXXXX)
#
# Loopback only: the server on 127.0.112.1:5300 (UDP+TCP) and :9300 (admin), the
# backends on 127.0.113.1-4:8080, dnsperf from 127.0.114.1. Every process this
# script starts is stopped again by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${SOAK_SECONDS:-600}
QPS=${SOAK_QPS:-3000}
FLAP=${SOAK_FLAP:-5}
ADDR=127.0.112.1 PORT=5300 ADMIN=127.0.112.1:9300 CLIENT=127.0.114.1
BACKENDS=(127.0.113.1 127.0.113.2 127.0.113.3 127.0.113.4)
declare -A PID=()

die() { echo "soak: $*" >&2; exit 1; }
stop_pid() { # stop_pid NAME: SIGTERM, up to 5 s, then SIGKILL; only PIDs we started
    local name=$1 p=${PID[$1]:-}
    [ -n "$p" ] || return 0
    if kill -0 "$p" 2>/dev/null; then
        kill -TERM "$p" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
    fi
    if wait "$p" 2>/dev/null; then LAST_EXIT=0; else LAST_EXIT=$?; fi
    unset "PID[$name]"
}
cleanup() {
    local rc=$?
    for name in "${!PID[@]}"; do stop_pid "$name"; done
    [ -n "${D:-}" ] && echo "soak: results in $D"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v dnsperf >/dev/null || die "dnsperf is missing (apt-get install dnsperf)"
command -v curl >/dev/null || die "curl is missing"
BIN=${SOAK_BIN:-target/release/fleetdns}
if [ -z "${SOAK_BIN:-}" ] && [ "${SOAK_NO_BUILD:-0}" != 1 ]; then
    timeout 3600 cargo build --release --locked --bin fleetdns
fi
[ -x "$BIN" ] || die "$BIN is missing"
D=${SOAK_OUT:-$(mktemp -d /tmp/fleetdns-soak.XXXXXX)}
mkdir -p "$D"
cp "$BIN" "$D/fleetdns"   # a rebuild during the run cannot swap it

# ------------------------------------------------------------------ config

config() { # config WEIGHT: the fleet, with the backend weight (changes every reload)
    cat <<EOF
apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: soak.test
  nameServers: [{name: ns1.soak.test, addresses: [127.0.112.1]}]
  clusters:
EOF
    local i=1
    for b in "${BACKENDS[@]}"; do
        echo "    - {name: c$i, services: [{namespace: ns, name: svc, loadBalancer: ['$b']}, {namespace: ns, name: api, loadBalancer: ['c$i.lb.example.net']}]}"
        i=$((i + 1))
    done
    for p in web shop; do
        cat <<EOF
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata:
  name: $p
  namespace: ns
  annotations: {fleetdns.io/probe-interval-seconds: "1", fleetdns.io/probe-timeout-seconds: "1"}
spec:
  resourceGroup: rg
  monitorConfig: {port: 8080, path: /, toleratedNumberOfFailures: 0}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: $p, namespace: ns}
spec: {profile: {name: $p}, backend: {name: svc}, weight: $1}
EOF
    done
    cat <<EOF
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {name: api, namespace: ns, annotations: {fleetdns.io/probe-interval-seconds: "1", fleetdns.io/probe-timeout-seconds: "1"}}
spec: {resourceGroup: rg, monitorConfig: {port: 8080, path: /, protocol: TCP}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {name: api, namespace: ns}
spec: {profile: {name: api}, backend: {name: api}, weight: 10}
---
apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata: {name: svc, namespace: ns}
---
apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata: {name: api, namespace: ns}
EOF
}
config 100 > "$D/fleet.yaml"

# 70% profile A/AAAA, the rest apex SOA/NS, NXDOMAIN, CNAME answers, the health view.
{
    for _ in $(seq 35); do echo "ns-web.soak.test A"; echo "ns-shop.soak.test A"; done
    for _ in $(seq 5); do echo "ns-web.soak.test AAAA"; echo "ns-api.soak.test A"; done
    for _ in $(seq 5); do echo "soak.test SOA"; echo "soak.test NS"; echo "nope.soak.test A"; done
    for _ in $(seq 5); do echo "_health.ns-web.soak.test TXT"; done
} > "$D/queries.txt"

# ------------------------------------------------------------------ start

start_backend() { # start_backend INDEX
    local i=$1
    "$D/fleetdns" demo-backend --listen "${BACKENDS[$i]}:8080" >/dev/null 2>&1 &
    PID[backend$i]=$!
}
for i in "${!BACKENDS[@]}"; do start_backend "$i"; done
FLEETDNS_LOG=info,hickory_server=warn "$D/fleetdns" serve --config "$D/fleet.yaml" \
    --listen "$ADDR:$PORT" --admin "$ADMIN" >"$D/server.log" 2>&1 &
PID[server]=$!
for _ in $(seq 100); do
    curl -fsS --max-time 1 "http://$ADMIN/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS --max-time 1 "http://$ADMIN/readyz" >/dev/null || die "fleetdns did not become ready; see $D/server.log"
SERVER_PID=${PID[server]}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"; }

echo "soak: ${SECS}s of dnsperf (at most $QPS q/s) against $ADDR:$PORT; reload every 1 s; a backend flaps every ${FLAP}s"
dnsperf -s "$ADDR" -p "$PORT" -a "$CLIENT" -d "$D/queries.txt" -l "$SECS" -Q "$QPS" \
    -c 4 -T 1 -t 5 -S 60 >"$D/dnsperf.txt" 2>&1 &
PID[dnsperf]=$!

# ------------------------------------------------------------------ churn

start=$(date +%s)
reloads=0 flaps=0 down=""
echo "elapsed_s,rss_kib" >"$D/rss.csv"
next_flap=$((start + FLAP))
while kill -0 "${PID[dnsperf]}" 2>/dev/null; do
    now=$(date +%s)
    # Reload: a new weight each second, written atomically.
    config $((50 + (reloads % 50))) >"$D/fleet.yaml.tmp"
    mv "$D/fleet.yaml.tmp" "$D/fleet.yaml"
    reloads=$((reloads + 1))
    # Flap: bring the last victim back, take the next one down.
    if [ "$now" -ge "$next_flap" ]; then
        if [ -n "$down" ]; then
            start_backend "$down"
        fi
        victim=$((flaps % ${#BACKENDS[@]}))
        stop_pid "backend$victim"
        down=$victim flaps=$((flaps + 1)) next_flap=$((now + FLAP))
    fi
    if [ $(((now - start) % 5)) -eq 0 ]; then
        echo "$((now - start)),$(rss_kib)" >>"$D/rss.csv"
    fi
    sleep 1
done
wait "${PID[dnsperf]}" || true
unset "PID[dnsperf]"
[ -n "$down" ] && start_backend "$down"
echo "$(( $(date +%s) - start )),$(rss_kib)" >>"$D/rss.csv"
sleep 2   # the last reload lands
curl -fsS --max-time 5 "http://$ADMIN/metrics" >"$D/metrics.txt"

# ------------------------------------------------------------------ report

stop_pid server
server_exit=$LAST_EXIT
field() { awk -v k="$1" '$0 ~ "^ *" k { print $3; exit }' "$D/dnsperf.txt"; }
metric() { awk -v k="$1" '$1 == k { print $2; exit }' "$D/metrics.txt"; }
sent=$(field "Queries sent:")
completed=$(field "Queries completed:")
lost=$(field "Queries lost:")
qps=$(awk '/Queries per second:/ { print $4; exit }' "$D/dnsperf.txt")
rcodes=$(awk -F': *' '/Response codes:/ { print $2; exit }' "$D/dnsperf.txt")
# RSS: after a 30 s warm-up, then the last and the largest sample.
rss_warm=$(awk -F, 'NR > 1 && $1 >= 30 { print $2; exit }' "$D/rss.csv")
rss_first=$(awk -F, 'NR == 2 { print $2 }' "$D/rss.csv")
rss_last=$(tail -n 1 "$D/rss.csv" | cut -d, -f2)
rss_max=$(awk -F, 'NR > 1 && $2 > m { m = $2 } END { print m }' "$D/rss.csv")
rss_warm=${rss_warm:-$rss_first}
errors=$(grep -c ' ERROR ' "$D/server.log" || true)
warnings=$(grep ' WARN ' "$D/server.log" | grep -vc 'endpoint health changed' || true)
health_changes=$(grep -c 'endpoint health changed' "$D/server.log" || true)
ok_reloads=$(metric 'fleetdns_config_reloads_total{result="success"}')
bad_reloads=$(metric 'fleetdns_config_reloads_total{result="error"}')
transitions=$(awk '/^fleetdns_endpoint_state_transitions_total/ { s += $2 } END { print s + 0 }' "$D/metrics.txt")
rrl_dropped=$(metric fleetdns_rrl_dropped_total)

{
    echo "### Soak: $(date -u +%Y-%m-%dT%H:%MZ), ${SECS} s, $BIN"
    echo
    echo "| | |"
    echo "|---|---|"
    echo "| load | dnsperf -c 4 -T 1 -Q $QPS -l $SECS -t 5 (from $CLIENT) |"
    echo "| queries sent / completed / **lost** | $sent / $completed / **$lost** |"
    echo "| queries per second (average) | $qps |"
    echo "| response codes | $rcodes |"
    echo "| config rewrites (1/s) / reloads counted success / error | $reloads / $ok_reloads / $bad_reloads |"
    echo "| backend flaps (kill, restart ${FLAP} s later) / endpoint state transitions | $flaps / $transitions |"
    echo "| RSS first sample / after 30 s / max / last (KiB) | $rss_first / $rss_warm / $rss_max / $rss_last |"
    echo "| RSS growth after warm-up | $((rss_last - rss_warm)) KiB |"
    echo "| server log ERROR / WARN lines (besides the $health_changes expected \"endpoint health changed\") | $errors / $warnings |"
    echo "| RRL drops (dnsperf's loopback source is exempt) | $rrl_dropped |"
    echo "| server exit code after SIGTERM | $server_exit |"
} | tee "$D/report.md"
