#!/usr/bin/env bash
# fleetdns benchmark (issue #7): fleetdns against knot, nsd, gdnsd (weighted) and PowerDNS
# (LUA pickwrandom), all on loopback, all measured with the same dnsperf query mix and
# client settings; then fleetdns alone with 10k and 100k profile names, and the time from a
# config change to new answers. Writes everything to a results directory and prints one table.
#
#   bash scripts/bench.sh            # full run (installs peers with apt, builds the release binary)
#   bash scripts/bench.sh --quick    # short validation run (1 round of 2 s, small scale configs)
# The DNSSEC runs (DO=1 against knot with automatic signing, compile/re-sign cost) are
# scripts/bench_dnssec.sh, run last; it can also run alone.
#
# Options:
#   --quick            1 round, 2 s per run, scale 1000 only, 2 reload trials
#   --no-build         use target/release/fleetdns as it is (no cargo build)
#   --no-install       do not apt-get install missing tools
#   --out DIR          results directory (default: a new /tmp/fleetdns-bench.XXXXXX)
#   --seconds N        length of every dnsperf run (default 10)
#   --rounds N         alternated rounds of saturated runs; the median is reported (default 3)
#   --scale LIST       profile-name counts for the fleetdns scale runs (default 10000,100000)
#   --dnsperf "OPTS"   dnsperf client settings (default "-c 10 -T 1 -q 100")
#   --keep-raw         keep dnsperf -v per-query output (large)
#   --baseline BIN     also run BIN (e.g. a release build of an older commit) on the Weighted
#                      config, as server fleetdnsbase: before/after in the same run
#
# Needs root (apt, port 53 on 127.0.77.x). Only 127.0.77.0/24 is bound; every process this
# script starts is stopped again by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
HELPER="python3 $ROOT/scripts/bench_helper.py"

QUICK=0 BUILD=1 INSTALL=1 OUT="" SECONDS_RUN=10 ROUNDS=3 SCALE="10000,100000"
DNSPERF_OPTS="-c 10 -T 1 -q 100" KEEP_RAW="" RELOAD_TRIALS=5 BASELINE=""
SCALE_START_TIMEOUT=${SCALE_START_TIMEOUT:-900}
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --no-build) BUILD=0 ;;
        --no-install) INSTALL=0 ;;
        --out) OUT=$2; shift ;;
        --seconds) SECONDS_RUN=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        --scale) SCALE=$2; shift ;;
        --dnsperf) DNSPERF_OPTS=$2; shift ;;
        --keep-raw) KEEP_RAW=--keep-raw ;;
        --baseline) BASELINE=$2; shift ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ "$QUICK" = 1 ]; then
    SECONDS_RUN=2 ROUNDS=1 RELOAD_TRIALS=2
    [ "$SCALE" = "10000,100000" ] && SCALE="1000"
fi

PORT=53
declare -A ADDR=([fleetdns]=127.0.77.1 [knot]=127.0.77.2 [nsd]=127.0.77.3 [gdnsd]=127.0.77.4 [pdns]=127.0.77.5
    [fleetdns1]=127.0.77.6 [fleetdnsmv]=127.0.77.7 [fleetdnsbase]=127.0.77.8)
# fleetdns1: the same binary and config with one UDP worker instead of one per core (the
# default). With dnsperf on the same 2 cores, the worker count is worth seeing side by side.
# fleetdnsmv: the same binary with every profile MultiValue (fleetdns.io/routing-method).
# fleetdnsbase: --baseline's binary on the Weighted config.
SERVERS=(fleetdns fleetdns1 fleetdnsmv knot nsd gdnsd pdns)
FLEETDNS_SERVERS=(fleetdns fleetdns1 fleetdnsmv)
if [ -n "$BASELINE" ]; then
    [ -x "$BASELINE" ] || { echo "bench: --baseline $BASELINE is not an executable" >&2; exit 2; }
    SERVERS+=(fleetdnsbase)
    FLEETDNS_SERVERS+=(fleetdnsbase)
fi
SCALE_ADDR=127.0.77.11
declare -A PID=()
T_START=$(date +%s)

say() { printf '\n== %s\n' "$*"; }
die() { echo "bench: $*" >&2; exit 1; }

# ------------------------------------------------------------------ cleanup

stop_pid() { # stop_pid NAME: SIGTERM, up to 5 s, then SIGKILL; only the PID we started
    local name=$1 p=${PID[$1]:-}
    [ -n "$p" ] || return 0
    if kill -0 "$p" 2>/dev/null; then
        kill -TERM "$p" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
    fi
    wait "$p" 2>/dev/null || true
    unset "PID[$name]"
}
cleanup() {
    local rc=$?
    for name in "${!PID[@]}"; do stop_pid "$name"; done
    [ -n "${D:-}" ] && echo "bench: results in $D"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ tools

[ "$(id -u)" -eq 0 ] || die "run as root (apt-get, port 53 on 127.0.77.x)"
need=()
command -v dnsperf >/dev/null || need+=(dnsperf)
command -v knotd >/dev/null || need+=(knot)
command -v nsd >/dev/null || need+=(nsd)
command -v gdnsd >/dev/null || need+=(gdnsd)
command -v pdns_server >/dev/null || need+=(pdns-server)
# The bind backend is only a Recommends of pdns-server.
compgen -G "/usr/lib/*/pdns/libbindbackend.so" >/dev/null || need+=(pdns-backend-bind)
if [ ${#need[@]} -gt 0 ]; then
    [ "$INSTALL" = 1 ] || die "missing: ${need[*]} (drop --no-install)"
    say "apt-get install ${need[*]}"
    timeout 300 apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
# A package may have started its daemon on 0.0.0.0:53 (no policy-rc.d); that would take our ports.
if ss -Hlun | awk '{print $4}' | grep -qE '^(0\.0\.0\.0|\*|\[::\]):53$'; then
    ss -Hlunp | grep -E ':53 ' >&2 || true
    die "something listens on *:53; stop it first (this script only stops what it starts)"
fi

# fleetdns binds its UDP sockets with SO_REUSEPORT: a leftover fleetdns on the same address would
# silently share the queries. Nothing may listen on our addresses yet.
if ss -Hlun | awk '{print $4}' | grep -qE '^127\.0\.77\.[0-9]+:53$'; then
    ss -Hlunp | grep -E '127\.0\.77\.' >&2 || true
    die "something already listens on 127.0.77.x:53 (a previous run?); stop it first"
fi

if [ "$BUILD" = 1 ]; then
    say "cargo build --release"
    timeout 3600 cargo build --release --locked --bin fleetdns
fi
[ -x target/release/fleetdns ] || die "target/release/fleetdns is missing (drop --no-build)"

D=${OUT:-$(mktemp -d /tmp/fleetdns-bench.XXXXXX)}
mkdir -p "$D"
# A private copy: a rebuild by someone else during the run cannot swap the binary.
cp target/release/fleetdns "$D/fleetdns"
FLEETDNS="$D/fleetdns"
if [ -n "$BASELINE" ]; then
    cp "$BASELINE" "$D/fleetdns-baseline"
fi

# ------------------------------------------------------------------ machine

ver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo "?"; }
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cpus: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "kernel: $(uname -sr)"
    echo "os: $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "fleetdns: $("$FLEETDNS" --version) (git $(git rev-parse --short HEAD 2>/dev/null || echo ?)$(git diff --quiet HEAD -- dns src config 2>/dev/null || echo ', with uncommitted changes'))"
    [ -z "$BASELINE" ] || echo "baseline: $BASELINE ($("$D/fleetdns-baseline" --version))"
    echo "rustc: $(rustc --version 2>/dev/null || echo ?)"
    echo "dnsperf: $(ver dnsperf)  knot: $(ver knot)  nsd: $(ver nsd)  gdnsd: $(ver gdnsd)  pdns-server: $(ver pdns-server)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$D/machine.txt"
python3 - "$D/labels.json" "$(ver knot)" "$(ver nsd)" "$(ver gdnsd)" "$(ver pdns-server)" <<'EOF'
import json, sys
out, knot, nsd, gdnsd, pdns = sys.argv[1:]
v = lambda s: s.split("-")[0].split(":")[-1]
json.dump({
    "fleetdns": "fleetdns (weighted 1:2:3)",
    "fleetdns1": "fleetdns, 1 UDP worker (weighted 1:2:3)",
    "fleetdnsmv": "fleetdns MultiValue (3 of 3 per answer, weighted order)",
    "fleetdnsbase": "fleetdns --baseline binary (weighted 1:2:3)",
    "knot": f"knot {v(knot)} (static A)",
    "nsd": f"nsd {v(nsd)} (static A)",
    "gdnsd": f"gdnsd {v(gdnsd)} (DYNA weighted 1:2:3)",
    "pdns": f"PowerDNS {v(pdns)} (LUA pickwrandom 1:2:3, shared)",
}, open(out, "w"))
EOF

# ------------------------------------------------------------------ servers

say "configs in $D"
$HELPER gen-main --dir "$D" --profiles 4
cat <<EOF
zone bench.example: apex SOA, NS ns1.bench.example (glue 192.0.2.53), profiles bench-app1..4
(3 endpoints each, 127.1.<k>.1-3, weights 1:2:3) and bench-reload (1 endpoint); answer TTL 60.
fleetdns: every ServiceExport has fleetdns.io/always-serve: "true" (no health probes run);
fleetdnsmv serves fleet-multivalue.yaml: the same with fleetdns.io/routing-method: MultiValue.
knot/nsd: one static A per profile (the heaviest endpoint); gdnsd: DYNA weighted!pool;
pdns: LUA A "pickwrandom(...)" with enable-lua-records=shared.
query mix (queries.txt, 1000 lines, cycled by dnsperf): 70% profile A, 10% apex SOA, 5% apex NS,
10% NXDOMAIN (nx-<n>.bench.example A), 5% NODATA (profile AAAA). Same file for every server.
EOF

FLEETDNS_LOG=${FLEETDNS_LOG:-warn} "$FLEETDNS" serve --config "$D/fleet.yaml" \
    --listen "${ADDR[fleetdns]}:$PORT" --admin "${ADDR[fleetdns]}:19353" 2>"$D/fleetdns.log" &
PID[fleetdns]=$!
FLEETDNS_LOG=${FLEETDNS_LOG:-warn} "$FLEETDNS" serve --config "$D/fleet.yaml" --udp-workers 1 \
    --listen "${ADDR[fleetdns1]}:$PORT" --admin "${ADDR[fleetdns1]}:19353" 2>"$D/fleetdns1.log" &
PID[fleetdns1]=$!
FLEETDNS_LOG=${FLEETDNS_LOG:-warn} "$FLEETDNS" serve --config "$D/fleet-multivalue.yaml" \
    --listen "${ADDR[fleetdnsmv]}:$PORT" --admin "${ADDR[fleetdnsmv]}:19353" 2>"$D/fleetdnsmv.log" &
PID[fleetdnsmv]=$!
if [ -n "$BASELINE" ]; then
    FLEETDNS_LOG=${FLEETDNS_LOG:-warn} "$D/fleetdns-baseline" serve --config "$D/fleet.yaml" \
        --listen "${ADDR[fleetdnsbase]}:$PORT" --admin "${ADDR[fleetdnsbase]}:19353" 2>"$D/fleetdnsbase.log" &
    PID[fleetdnsbase]=$!
fi
for s in "${FLEETDNS_SERVERS[@]}"; do
    if ! $HELPER wait --server "${ADDR[$s]}" --port $PORT --pid "${PID[$s]}" --timeout 60; then
        tail -n 5 "$D/$s.log" >&2 || true
        rc=0; kill -0 "${PID[$s]}" 2>/dev/null || wait "${PID[$s]}" || rc=$?
        die "$s did not start (exit status $rc)"
    fi
done
# The peers get fleetdns's own SOA (serial, timers, TTLs), so the zones are the same.
SOA=$($HELPER soa --server "${ADDR[fleetdns]}" --port $PORT)
$HELPER gen-peers --dir "$D" --soa "$SOA" --port $PORT --knot "${ADDR[knot]}" --nsd "${ADDR[nsd]}" \
    --gdnsd "${ADDR[gdnsd]}" --pdns "${ADDR[pdns]}"

knotc -c "$D/knot/knot.conf" conf-check >/dev/null
nsd-checkconf "$D/nsd/nsd.conf"
gdnsd -c "$D/gdnsd" checkconf 2>"$D/gdnsd-checkconf.log" || { cat "$D/gdnsd-checkconf.log" >&2; die "gdnsd checkconf"; }

knotd -c "$D/knot/knot.conf" 2>"$D/knot.log" &
PID[knot]=$!
nsd -d -c "$D/nsd/nsd.conf" 2>"$D/nsd.stderr" &            # parent PID; its children exit with it
PID[nsd]=$!
gdnsd -c "$D/gdnsd" start 2>"$D/gdnsd.log" &               # stays in the foreground
PID[gdnsd]=$!
pdns_server --config-dir="$D/pdns" >"$D/pdns.log" 2>&1 &
PID[pdns]=$!
for s in knot nsd gdnsd pdns; do
    if ! $HELPER wait --server "${ADDR[$s]}" --port $PORT --pid "${PID[$s]}" --timeout 30; then
        tail -n 5 "$D/$s".* >&2 || true
        die "$s did not start"
    fi
done

say "equivalence check (plain UDP, no EDNS, no RD)"
specs=(); for s in "${SERVERS[@]}"; do specs+=("$s=${ADDR[$s]}"); done
$HELPER check --profiles "$D/profiles.json" --port $PORT "${specs[@]}" | tee "$D/check.txt" \
    || echo "bench: WARNING: a check failed (see above)"

# ------------------------------------------------------------------ saturated runs

perf() { # perf NAME ADDR PID OUT [extra helper args]
    local name=$1 addr=$2 pid=$3 out=$4; shift 4
    $HELPER dnsperf --name "$name" --server "$addr" --port $PORT --pid "$pid" --queries "${QUERIES:-$D/queries.txt}" \
        --seconds "$SECONDS_RUN" --opts "$DNSPERF_OPTS" --out "$out" $KEEP_RAW "$@"
}

say "warm-up (2 s each, not counted)"
for s in "${SERVERS[@]}"; do
    SECONDS_RUN=2 perf "$s" "${ADDR[$s]}" "${PID[$s]}" "$D/warmup-$s" >/dev/null
done

say "saturated: $ROUNDS round(s) x ${SERVERS[*]}: dnsperf $DNSPERF_OPTS -l $SECONDS_RUN"
for r in $(seq "$ROUNDS"); do
    # each round starts one server later, so no server always runs first or last
    order=("${SERVERS[@]:$(( (r - 1) % ${#SERVERS[@]} ))}" "${SERVERS[@]:0:$(( (r - 1) % ${#SERVERS[@]} ))}")
    for s in "${order[@]}"; do
        perf "$s" "${ADDR[$s]}" "${PID[$s]}" "$D/max-r$r-$s"
        sleep 1
    done
done

say "half load: -Q = 50% of each server's median QPS, -v (p99 from per-query latencies)"
for s in "${SERVERS[@]}"; do
    med=$(python3 -c 'import json,sys,statistics; print(int(statistics.median(json.load(open(f))["qps"] for f in sys.argv[1:]) / 2))' "$D"/max-r*-"$s".json)
    perf "$s" "${ADDR[$s]}" "${PID[$s]}" "$D/half-$s" --qps "$med" --verbose
    $HELPER rss --pid "${PID[$s]}" >"$D/rss-$s.json"
    sleep 1
done

# ------------------------------------------------------------------ config change → new answers

say "config change to new answers (fleetdns; bench-reload's endpoint moves, $RELOAD_TRIALS trials each)"
$HELPER reload --server "${ADDR[fleetdns]}" --port $PORT --pid "${PID[fleetdns]}" --config "$D/fleet.yaml" \
    --mode poll --trials "$RELOAD_TRIALS" --out "$D/reload-poll.json" || true
$HELPER reload --server "${ADDR[fleetdns]}" --port $PORT --pid "${PID[fleetdns]}" --config "$D/fleet.yaml" \
    --mode hup --trials "$RELOAD_TRIALS" --out "$D/reload-hup.json" || true

for s in "${SERVERS[@]}"; do stop_pid "$s"; done

# ------------------------------------------------------------------ scale (fleetdns only)

IFS=, read -r -a SCALES <<<"$SCALE"
for n in "${SCALES[@]}"; do
    say "scale: $n profile names (3 endpoints each, equal weights)"
    cfg="$D/scale-$n.yaml"
    QUERIES="$D/scale-$n-queries.txt"
    $HELPER gen-scale --n "$n" --config "$cfg" --queries "$QUERIES" --lines 200000
    bytes=$(stat -c %s "$cfg")
    docs=$(( $(grep -c '^---$' "$cfg") + 1 ))
    echo "  config: $bytes bytes, $docs documents"
    t0=$(date +%s.%N)
    FLEETDNS_LOG=${FLEETDNS_LOG:-warn} "$FLEETDNS" serve --config "$cfg" \
        --listen "$SCALE_ADDR:$PORT" --admin "$SCALE_ADDR:19353" 2>"$D/scale-$n.log" &
    PID[scale]=$!
    status=ok err=""
    if ! $HELPER wait --server "$SCALE_ADDR" --port $PORT --pid "${PID[scale]}" --timeout "$SCALE_START_TIMEOUT"; then
        status=failed
        err=$(grep -m1 -iE 'error|not valid' "$D/scale-$n.log" | cut -c1-300 || true)
        [ -n "$err" ] || err="no answer within $SCALE_START_TIMEOUT s"
        echo "  fleetdns did not serve $n names: $err"
    fi
    t1=$(date +%s.%N)
    if [ "$status" = ok ]; then
        startup=$(python3 -c "print(round($t1 - $t0, 2))")
        echo "  start to first answer: $startup s"
        sleep 1
        $HELPER rss --pid "${PID[scale]}" >"$D/scale-$n-rss-idle.json"
        SECONDS_RUN=2 perf "scale-$n" "$SCALE_ADDR" "${PID[scale]}" "$D/scale-$n-warmup" >/dev/null
        perf "scale-$n" "$SCALE_ADDR" "${PID[scale]}" "$D/scale-$n-perf"
        $HELPER rss --pid "${PID[scale]}" >"$D/scale-$n-rss-after.json"
        $HELPER reload --server "$SCALE_ADDR" --port $PORT --pid "${PID[scale]}" --config "$cfg" \
            --mode hup --trials 1 --timeout "$SCALE_START_TIMEOUT" --out "$D/scale-$n-reload.json" || true
    else
        startup=null
    fi
    stop_pid scale
    unset QUERIES
    python3 - "$D/scale-$n-meta.json" "$n" "$bytes" "$docs" "$startup" "$status" "$err" <<'EOF'
import json, sys
out, n, b, docs, startup, status, err = sys.argv[1:]
json.dump({"n": int(n), "config_bytes": int(b), "docs": int(docs),
           "startup_s": None if startup == "null" else float(startup), "status": status, "error": err}, open(out, "w"))
EOF
    rm -f "$cfg" "$D/scale-$n-queries.txt"
done

# ------------------------------------------------------------------ report

say "results ($(( $(date +%s) - T_START )) s)"
cat "$D/machine.txt"
echo
$HELPER report --dir "$D" --servers "$(IFS=,; echo "${SERVERS[*]}")" --opts "$DNSPERF_OPTS" \
    --seconds "$SECONDS_RUN" --scale "$SCALE"

# ------------------------------------------------------------------ DNSSEC (issue 19)

# DO=1 mix against knot with automatic signing, and compile/re-sign cost: scripts/bench_dnssec.sh.
say "DNSSEC: fleetdns vs knot (automatic signing), DO=1"
DNSSEC_BUILD=--no-build
[ "$BUILD" = 1 ] && DNSSEC_BUILD=""
DNSSEC_SCALE=$SCALE
[ "$QUICK" = 1 ] && DNSSEC_SCALE=1000
bash "$ROOT/scripts/bench_dnssec.sh" $DNSSEC_BUILD --out "$D/dnssec" --seconds "$SECONDS_RUN" \
    --rounds "$ROUNDS" --scale "$DNSSEC_SCALE" | tee "$D/dnssec.txt" || echo "bench: the DNSSEC runs failed (see $D/dnssec)"
echo "total time: $(( $(date +%s) - T_START )) s" | tee -a "$D/machine.txt"
