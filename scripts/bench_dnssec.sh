#!/usr/bin/env bash
# DNSSEC benchmark (issue 19): fleetdns signing its zone against knot with automatic signing
# of an equivalent zone (same names, one A per profile, ECDSA P-256 CSK, NSEC), both on
# loopback, the same DO=1 query mix through dnsperf -D. Reports QPS and server CPU per
# query (utime+stime of the server process over the run / queries answered), then the
# compile and re-sign cost of fleetdns at 10k (and 100k) profiles (dns/examples/sign_cost.rs).
#
#   bash scripts/bench_dnssec.sh [--no-build] [--seconds N] [--rounds N] [--profiles N]
#                                [--scale LIST] [--out DIR]
#
# Needs root (port 53 on 127.0.78.x). Every process it starts is stopped by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
BUILD=1 SECONDS_RUN=10 ROUNDS=3 PROFILES=1000 SCALE="10000" OUT=""
DNSPERF_OPTS="-c 10 -T 1 -q 100"
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0 ;;
        --seconds) SECONDS_RUN=$2; shift ;;
        --rounds) ROUNDS=$2; shift ;;
        --profiles) PROFILES=$2; shift ;;
        --scale) SCALE=$2; shift ;;
        --out) OUT=$2; shift ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench_dnssec: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ -n "$OUT" ] || OUT=$(mktemp -d /tmp/fleetdns-bench-dnssec.XXXXXX)
mkdir -p "$OUT"
ZONE=fleet.example.com
FLEETDNS_ADDR=127.0.78.1 KNOT_ADDR=127.0.78.2
declare -A PID=()
stop() {
    local p=${PID[$1]:-}
    [ -n "$p" ] || return 0
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    unset "PID[$1]"
}
trap 'for n in "${!PID[@]}"; do stop "$n"; done' EXIT

for t in dnsperf knotd knotc keymgr dig; do
    command -v $t >/dev/null || { echo "bench_dnssec: $t is missing (apt-get install dnsperf knot knot-dnsutils dnsutils)" >&2; exit 1; }
done
if [ "$BUILD" = 1 ]; then
    cargo build --release --locked --bin fleetdns -p fleetdns-dns --example sign_cost
fi
BIN=$ROOT/target/release/fleetdns

# ---------------------------------------------------------------- zones and queries
mkdir -p "$OUT/keys" "$OUT/knot/run" "$OUT/knot/db"
"$BIN" dnssec keygen --zone $ZONE --dir "$OUT/keys" >/dev/null
python3 - "$OUT" "$PROFILES" <<'PY'
import random, sys
out, n = sys.argv[1], int(sys.argv[2])
zone = "fleet.example.com"
cfg = [f"""apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: {zone}
  soa: {{serial: 1, ttl: 3600, minimum: 60}}
  nameServers: [{{name: ns1.{zone}, addresses: [127.0.78.1]}}]
  healthView: {{trustedNetworks: []}}
  rrl: {{enabled: false}}
  dnssec: {{keyDirectory: {out}/keys}}
  clusters:"""]
for c in (1, 2):
    cfg.append(f"    - name: c{c}\n      services:")
    for i in range(n):
        cfg.append(f"        - {{namespace: ns, name: s{i}, loadBalancer: ['10.{c}.{i >> 8}.{i & 255}']}}")
knot = [f"$ORIGIN {zone}.", f"@ 3600 IN SOA ns1.{zone}. hostmaster.{zone}. 1 14400 3600 1209600 60",
        f"@ 3600 IN NS ns1.{zone}.", "ns1 3600 IN A 127.0.78.1"]
for i in range(n):
    cfg.append(f"""---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerProfile
metadata: {{name: p{i}, namespace: ns}}
spec: {{resourceGroup: rg}}
---
apiVersion: networking.fleet.azure.com/v1beta1
kind: TrafficManagerBackend
metadata: {{name: p{i}, namespace: ns}}
spec: {{profile: {{name: p{i}}}, backend: {{name: s{i}}}, weight: 1}}
---
apiVersion: networking.fleet.azure.com/v1alpha1
kind: ServiceExport
metadata:
  name: s{i}
  namespace: ns
  annotations: {{fleetdns.io/always-serve: "true"}}""")
    knot.append(f"ns-p{i} 60 IN A 10.1.{i >> 8}.{i & 255}")
open(f"{out}/fleet.yaml", "w").write("\n".join(cfg) + "\n")
open(f"{out}/knot/{zone}.zone", "w").write("\n".join(knot) + "\n")
# The DO=1 mix: 60% profile A, 10% profile AAAA (NODATA), 15% NXDOMAIN, 5% each apex SOA, NS, DNSKEY.
rng = random.Random(19)
lines = []
for _ in range(100000):
    r = rng.random()
    i = rng.randrange(n)
    if r < 0.60: lines.append(f"ns-p{i}.{zone} A")
    elif r < 0.70: lines.append(f"ns-p{i}.{zone} AAAA")
    elif r < 0.85: lines.append(f"nx{rng.randrange(10**6)}.{zone} A")
    elif r < 0.90: lines.append(f"{zone} SOA")
    elif r < 0.95: lines.append(f"{zone} NS")
    else: lines.append(f"{zone} DNSKEY")
open(f"{out}/queries.txt", "w").write("\n".join(lines) + "\n")
PY
cat > "$OUT/knot/knot.conf" <<EOF
server:
    listen: $KNOT_ADDR@53
    rundir: "$OUT/knot/run"
log:
  - target: stderr
    any: warning
database:
    storage: "$OUT/knot/db"
policy:
  - id: csk
    algorithm: ecdsap256sha256
    single-type-signing: on
    nsec3: off
template:
  - id: default
    storage: "$OUT/knot"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: $ZONE
    dnssec-signing: on
    dnssec-policy: csk
EOF
knotc -c "$OUT/knot/knot.conf" conf-check >/dev/null

# ---------------------------------------------------------------- servers
"$BIN" serve -c "$OUT/fleet.yaml" -l $FLEETDNS_ADDR:53 --admin 127.0.0.1:0 2>"$OUT/fleetdns.log" &
PID[fleetdns]=$!
knotd -c "$OUT/knot/knot.conf" 2>"$OUT/knot.log" &
PID[knot]=$!
for s in "fleetdns $FLEETDNS_ADDR" "knot $KNOT_ADDR"; do
    set -- $s
    for _ in $(seq 600); do
        dig @"$2" +dnssec +norec +time=1 +tries=1 $ZONE DNSKEY 2>/dev/null | grep -q "RRSIG" && break
        sleep 0.1
    done
    dig @"$2" +dnssec +norec $ZONE DNSKEY | grep -q RRSIG || { echo "bench_dnssec: $1 does not serve a signed zone; log:" >&2; cat "$OUT/$1.log" >&2; exit 1; }
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() { # run NAME ADDR ROUND
    local name=$1 addr=$2 round=$3 c0 c1
    c0=$(cpu_ticks "${PID[$name]}")
    # shellcheck disable=SC2086
    dnsperf -s "$addr" -d "$OUT/queries.txt" -l "$SECONDS_RUN" $DNSPERF_OPTS -D > "$OUT/$name-$round.txt" 2>&1
    c1=$(cpu_ticks "${PID[$name]}")
    local q qps lost
    q=$(awk '/Queries completed:/ {print $3}' "$OUT/$name-$round.txt")
    qps=$(awk '/Queries per second:/ {print $4}' "$OUT/$name-$round.txt")
    lost=$(awk '/Queries lost:/ {print $3}' "$OUT/$name-$round.txt")
    # CPU ticks are 1/100 s: microseconds per query = ticks * 10000 / queries.
    echo "$name $round $qps $q $lost $(( (c1 - c0) * 10000 ))" >> "$OUT/runs.txt"
}
: > "$OUT/runs.txt"
for r in $(seq "$ROUNDS"); do
    run fleetdns $FLEETDNS_ADDR "$r"
    run knot $KNOT_ADDR "$r"
done
stop fleetdns; stop knot

echo "== DO=1 query mix, $PROFILES profiles, dnsperf $DNSPERF_OPTS -D, ${SECONDS_RUN}s x $ROUNDS rounds (median)"
python3 - "$OUT/runs.txt" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, rnd, qps, q, lost, cpu_us_total = line.split()
    rows.setdefault(name, []).append((float(qps), int(q), lost, int(cpu_us_total) / max(int(q), 1)))
print(f"{'server':10} {'QPS (median)':>14} {'server CPU µs/query':>20} {'lost':>10}")
med = {}
for name, rs in rows.items():
    qps = statistics.median(r[0] for r in rs)
    cpu = statistics.median(r[3] for r in rs)
    med[name] = (qps, cpu)
    print(f"{name:10} {qps:14,.0f} {cpu:20.2f} {','.join(r[2] for r in rs):>10}")
if "fleetdns" in med and "knot" in med:
    print(f"fleetdns/knot QPS ratio {med['fleetdns'][0] / med['knot'][0]:.2f}; CPU per query ratio {med['fleetdns'][1] / med['knot'][1]:.2f}")
PY

echo
echo "== compile and re-sign cost (one thread)"
IFS=, read -ra NS <<< "$SCALE"
for n in "${NS[@]}"; do "$ROOT/target/release/examples/sign_cost" "$n" | tee -a "$OUT/sign_cost.tsv"; done
echo "results: $OUT"
