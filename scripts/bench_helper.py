#!/usr/bin/env python3
"""Helper for scripts/bench.sh: generates configs, zones and query files, runs
dnsperf with CPU accounting, computes latency percentiles, measures config-change
latency and prints the report. Standard library only.

Subcommands (bench.sh calls them; each is usable on its own):
  gen-main     fleetdns config and query file for the peer comparison
  gen-peers    knot/nsd/gdnsd/pdns configs and zones equivalent to the fleetdns zone
  gen-scale    fleetdns config with N profile names and a query file over all of them
  wait         wait until a server answers the apex SOA
  soa          print the apex SOA fields of a server as JSON
  check        functional check of every server (rcode, aa, section counts, weights)
  dnsperf      run dnsperf once, parse it, record CPU of server tree and of dnsperf
  reload       time from a config file change to the first answer with the new address
  rss          VmRSS/VmHWM of a process tree in KiB, as JSON
  report       print the results table (and write it as Markdown)
"""

import argparse
import json
import os
import random
import re
import resource
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

ZONE = "bench.example"
NS_NAME = "ns1"
NS_GLUE = "192.0.2.53"
PROFILE_NS = "bench"          # Kubernetes namespace of every generated profile
CLUSTER_WEIGHTS = [1, 2, 3]   # export weights of member-1..3 → effective endpoint weights 1:2:3
ANSWER_TTL = 60
# Query mix (per 100 queries); bench.sh prints it.
MIX = [("A", 70), ("SOA", 10), ("NS", 5), ("NXDOMAIN", 10), ("NODATA", 5)]

QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "TXT": 16, "AAAA": 28}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


# ---------------------------------------------------------------- DNS client


def build_query(name, qtype, qid):
    msg = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)  # no RD, like dig +norec
    for label in name.rstrip(".").split("."):
        msg += bytes([len(label)]) + label.encode()
    return msg + b"\0" + struct.pack(">HH", QTYPES[qtype], 1)


def _skip_name(buf, off):
    while True:
        n = buf[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n


def parse_response(buf):
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", buf[:12])
    off = 12
    for _ in range(qd):
        off = _skip_name(buf, off) + 4
    answers = []
    for _ in range(an):
        off = _skip_name(buf, off)
        rtype, _cls, ttl, rdlen = struct.unpack(">HHIH", buf[off:off + 10])
        off += 10
        rdata = buf[off:off + rdlen]
        off += rdlen
        if rtype == 1:
            answers.append(("A", socket.inet_ntoa(rdata), ttl))
        elif rtype == 28:
            answers.append(("AAAA", socket.inet_ntop(socket.AF_INET6, rdata), ttl))
        else:
            answers.append((str(rtype), rdata.hex(), ttl))
    return {
        "id": qid,
        "rcode": RCODES.get(flags & 0xF, str(flags & 0xF)),
        "aa": bool(flags & 0x0400),
        "tc": bool(flags & 0x0200),
        "counts": (an, ns, ar),
        "answers": answers,
        "size": len(buf),
    }


class Client:
    def __init__(self, server, port, timeout=0.5):
        self.addr = (server, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        self.qid = random.randrange(65536)

    def query(self, name, qtype):
        self.qid = (self.qid + 1) & 0xFFFF
        self.sock.sendto(build_query(name, qtype, self.qid), self.addr)
        while True:
            buf, _ = self.sock.recvfrom(4096)  # raises socket.timeout
            if len(buf) >= 12 and struct.unpack(">H", buf[:2])[0] == self.qid:
                return parse_response(buf)


# ---------------------------------------------------------------- generation


def owner(name):
    return f"{PROFILE_NS}-{name}.{ZONE}"


def main_profiles(n):
    """Profiles of the comparison: app1..appN, endpoints 127.1.<k>.<cluster>, weights 1:2:3,
    plus 'reload' with one endpoint (the config-change measurement moves it)."""
    profiles = []
    for k in range(1, n + 1):
        profiles.append({
            "name": f"app{k}",
            "endpoints": [(f"member-{c}", f"127.1.{k}.{c}", w) for c, w in enumerate(CLUSTER_WEIGHTS, 1)],
        })
    profiles.append({"name": "reload", "endpoints": [("member-1", "127.2.0.1", 1)]})
    return profiles


def fleet_yaml(profiles, scoped_weights, routing=None):
    """The fleetdns config. scoped_weights: one cluster-scoped ServiceExport per cluster with
    weights 1:2:3 (fleetdns.io/clusters); otherwise one ServiceExport per Service (equal weights).
    Every ServiceExport is fleetdns.io/always-serve, so no health probe runs. routing: a
    fleetdns.io/routing-method for every profile (default: none, i.e. Weighted)."""
    clusters = {}
    for p in profiles:
        for cluster, addr, _w in p["endpoints"]:
            clusters.setdefault(cluster, []).append((p["name"], addr))
    out = [
        "# generated by scripts/bench_helper.py",
        "apiVersion: fleetdns.io/v1alpha1",
        "kind: FleetDNSConfig",
        "metadata: {name: bench}",
        "spec:",
        f"  zone: {ZONE}",
        f"  ttl: {ANSWER_TTL}",
        f"  nameServers: [{{name: {NS_NAME}.{ZONE}, addresses: [{NS_GLUE}]}}]",
        "  clusters:",
    ]
    for cluster in sorted(clusters):
        out.append(f"    - name: {cluster}")
        out.append("      services:")
        for svc, addr in clusters[cluster]:
            out.append(f"        - {{namespace: {PROFILE_NS}, name: {svc}, loadBalancer: [\"{addr}\"]}}")
    for p in profiles:
        n = p["name"]
        out += [
            "---",
            "apiVersion: networking.fleet.azure.com/v1beta1",
            "kind: TrafficManagerProfile",
            f"metadata: {{name: {n}, namespace: {PROFILE_NS}}}" if routing is None else
            f"metadata: {{name: {n}, namespace: {PROFILE_NS}, annotations: {{fleetdns.io/routing-method: {routing}}}}}",
            "spec: {resourceGroup: rg-bench}",
            "---",
            "apiVersion: networking.fleet.azure.com/v1beta1",
            "kind: TrafficManagerBackend",
            f"metadata: {{name: {n}, namespace: {PROFILE_NS}}}",
            f"spec: {{profile: {{name: {n}}}, backend: {{name: {n}}}, weight: {sum(w for _, _, w in p['endpoints'])}}}",
        ]
        if scoped_weights and len(p["endpoints"]) > 1:
            for cluster, _addr, w in p["endpoints"]:
                out += [
                    "---",
                    "apiVersion: networking.fleet.azure.com/v1alpha1",
                    "kind: ServiceExport",
                    "metadata:",
                    f"  name: {n}",
                    f"  namespace: {PROFILE_NS}",
                    "  annotations:",
                    f"    networking.fleet.azure.com/weight: \"{w}\"",
                    f"    fleetdns.io/clusters: {cluster}",
                    "    fleetdns.io/always-serve: \"true\"",
                ]
        else:
            out += [
                "---",
                "apiVersion: networking.fleet.azure.com/v1alpha1",
                "kind: ServiceExport",
                f"metadata: {{name: {n}, namespace: {PROFILE_NS}, annotations: {{fleetdns.io/always-serve: \"true\"}}}}",
            ]
    return "\n".join(out) + "\n"


def query_lines(names, count, seed):
    """count query lines in the MIX proportions; profile names drawn from names."""
    rng = random.Random(seed)
    lines = []
    per100 = dict(MIX)
    blocks = max(1, count // 100)
    for b in range(blocks):
        block = []
        for i in range(per100["A"]):
            # a few names: in turn, so each gets the same share; many names: drawn uniformly
            name = names[(b * per100["A"] + i) % len(names)] if len(names) <= 8 else rng.choice(names)
            block.append(f"{name} A")
        block += [f"{ZONE} SOA"] * per100["SOA"]
        block += [f"{ZONE} NS"] * per100["NS"]
        block += [f"nx-{rng.randrange(1000)}.{ZONE} A" for _ in range(per100["NXDOMAIN"])]
        block += [f"{rng.choice(names)} AAAA" for _ in range(per100["NODATA"])]
        rng.shuffle(block)
        lines += block
    return "\n".join(lines) + "\n"


def cmd_gen_main(a):
    profiles = main_profiles(a.profiles)
    with open(os.path.join(a.dir, "fleet.yaml"), "w") as f:
        f.write(fleet_yaml(profiles, scoped_weights=True))
    # The same fleet with MultiValue profiles (3 of 3 endpoints per answer, in a weighted order).
    with open(os.path.join(a.dir, "fleet-multivalue.yaml"), "w") as f:
        f.write(fleet_yaml(profiles, scoped_weights=True, routing="MultiValue"))
    with open(os.path.join(a.dir, "profiles.json"), "w") as f:
        json.dump(profiles, f, indent=1)
    names = [owner(p["name"]) for p in profiles if p["name"] != "reload"]
    with open(os.path.join(a.dir, "queries.txt"), "w") as f:
        f.write(query_lines(names, 1000, seed=7))


def scale_profiles(n):
    """The gen-scale fleet: s0..s<n-1> with 3 equal-weight endpoints each, plus 'reload'."""
    profiles = []
    for i in range(n):
        profiles.append({
            "name": f"s{i}",
            "endpoints": [(f"member-{c}", f"127.{16 + 2 * c + (i >> 16)}.{(i >> 8) & 255}.{i & 255}", 1)
                          for c in (1, 2, 3)],
        })
    profiles.append({"name": "reload", "endpoints": [("member-1", "127.2.0.1", 1)]})
    return profiles


def cmd_gen_scale(a):
    profiles = scale_profiles(a.n)
    with open(a.config, "w") as f:
        f.write(fleet_yaml(profiles, scoped_weights=False))
    names = [owner(p["name"]) for p in profiles[:-1]]
    with open(a.queries, "w") as f:
        f.write(query_lines(names, a.lines, seed=11))


def zone_head(soa):
    """Zone file lines for the apex: SOA (fields as read from fleetdns by `soa`), NS and glue."""
    return [
        f"$ORIGIN {ZONE}.",
        f"@ {soa['ttl']} IN SOA {soa['mname']} {soa['rname']} {soa['serial']} {soa['refresh']} {soa['retry']} {soa['expire']} {soa['minimum']}",
        f"@ {soa['ns_ttl']} IN NS {NS_NAME}.{ZONE}.",
        f"{NS_NAME} {soa['ns_ttl']} IN A {NS_GLUE}",
    ]


def knot_conf(d, addr, port):
    """knot.conf serving {ZONE} from d/{ZONE}.zone; run and db directories under d (created)."""
    for sub in ("run", "db"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    return f"""# RRL is a module in knot 3.2 (mod-rrl) and is not loaded: no rate limiting.
server:
    listen: {addr}@{port}
    rundir: "{d}/run"
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: "{d}/db"
template:
  - id: default
    storage: "{d}"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: {ZONE}
"""


def cmd_gen_peers(a):
    """Zones equivalent to what fleetdns serves: same SOA (fields read from fleetdns), NS, glue
    and owner names. knot and nsd serve one static A per profile (its heaviest endpoint);
    gdnsd a DYNA weighted pool and pdns a LUA pickwrandom() record with the same weights."""
    with open(os.path.join(a.dir, "profiles.json")) as f:
        profiles = json.load(f)
    soa = json.loads(a.soa)
    d = a.dir
    head = zone_head(soa)
    static = list(head)
    lua = list(head)
    gd = list(head)
    pools = []
    for p in profiles:
        label = f"{PROFILE_NS}-{p['name']}"
        heaviest = max(p["endpoints"], key=lambda e: e[2])[1]
        static.append(f"{label} {ANSWER_TTL} IN A {heaviest}")
        if len(p["endpoints"]) == 1:
            lua.append(f"{label} {ANSWER_TTL} IN A {heaviest}")
            gd.append(f"{label} {ANSWER_TTL} IN A {heaviest}")
            continue
        picks = ",".join(f"{{{w},'{addr}'}}" for _c, addr, w in p["endpoints"])
        lua.append(f"{label} {ANSWER_TTL} IN LUA A \"pickwrandom({{{picks}}})\"")
        gd.append(f"{label} {ANSWER_TTL} IN DYNA weighted!{p['name']}")
        addrs = " ".join(f"{c} => [ {addr}, {w} ]" for c, addr, w in p["endpoints"])
        pools.append(f"        {p['name']} => {{ multi => false, addrs_v4 => {{ {addrs} }} }}")
    for sub in ("knot", "knot/run", "knot/db", "nsd", "gdnsd/zones", "gdnsd/run", "gdnsd/state", "pdns/run"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    files = {
        f"knot/{ZONE}.zone": "\n".join(static) + "\n",
        f"nsd/{ZONE}.zone": "\n".join(static) + "\n",
        f"gdnsd/zones/{ZONE}": "\n".join(gd) + "\n",
        f"pdns/{ZONE}.zone": "\n".join(lua) + "\n",
        "knot/knot.conf": knot_conf(os.path.join(d, "knot"), a.knot, a.port),
        # nsd's response rate limiting is ON by default (200 qps per /24): turned off here.
        # minimal-responses: without it nsd adds the apex NS and glue to every answer.
        "nsd/nsd.conf": f"""# generated by scripts/bench_helper.py
server:
    ip-address: {a.nsd}@{a.port}
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "{d}/nsd"
    database: ""
    pidfile: "{d}/nsd/nsd.pid"
    xfrdfile: "{d}/nsd/xfrd.state"
    zonelistfile: "{d}/nsd/zone.list"
    logfile: "{d}/nsd/nsd.log"
    verbosity: 1
    server-count: 1
    minimal-responses: yes
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: "{ZONE}"
    zonefile: "{ZONE}.zone"
""",
        "gdnsd/config": f"""options => {{
    listen => [ {a.gdnsd} ]
    dns_port => {a.port}
    run_dir => {d}/gdnsd/run
    state_dir => {d}/gdnsd/state
}}
plugins => {{
    weighted => {{
{chr(10).join(pools)}
    }}
}}
""",
        "pdns/named.conf": f'zone "{ZONE}" {{ type master; file "{d}/pdns/{ZONE}.zone"; }};\n',
        # enable-lua-records=shared: one Lua state per thread (=yes is ~20x slower, see peer-qps.md).
        "pdns/pdns.conf": f"""launch=bind
bind-config={d}/pdns/named.conf
local-address={a.pdns}
local-port={a.port}
enable-lua-records=shared
daemon=no
guardian=no
socket-dir={d}/pdns/run
disable-syslog=yes
loglevel=4
""",
    }
    for rel, text in files.items():
        with open(os.path.join(d, rel), "w") as f:
            f.write(text)


# ---------------------------------------------------------------- probing servers


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
        return st[st.rindex(")") + 2] != "Z"
    except OSError:
        return False


def cmd_wait(a):
    deadline = time.monotonic() + a.timeout
    c = Client(a.server, a.port, timeout=0.2)
    while time.monotonic() < deadline:
        if a.pid and not _alive(a.pid):
            print(f"bench: process {a.pid} exited before answering", file=sys.stderr)
            return 2
        try:
            r = c.query(ZONE, "SOA")
            if r["rcode"] == "NOERROR" and r["counts"][0] >= 1:
                return 0
        except (socket.timeout, ConnectionRefusedError, OSError):
            pass
        time.sleep(0.05)
    print(f"bench: {a.server}:{a.port} did not answer {ZONE} SOA within {a.timeout} s", file=sys.stderr)
    return 1


def _rdata_soa(server, port):
    """Raw SOA answer → fields (needs the wire format, so read it by hand)."""
    c = Client(server, port)
    qid = 4242
    c.sock.sendto(build_query(ZONE, "SOA", qid), c.addr)
    buf, _ = c.sock.recvfrom(4096)
    off = 12
    off = _skip_name(buf, off) + 4
    off = _skip_name(buf, off)
    rtype, _cls, ttl, rdlen = struct.unpack(">HHIH", buf[off:off + 10])
    off += 10

    def name_at(o):
        labels = []
        end = None
        while True:
            n = buf[o]
            if n == 0:
                o += 1
                break
            if n & 0xC0 == 0xC0:
                if end is None:
                    end = o + 2
                o = ((n & 0x3F) << 8) | buf[o + 1]
                continue
            labels.append(buf[o + 1:o + 1 + n].decode())
            o += 1 + n
        return ".".join(labels) + ".", (end if end is not None else o)

    mname, o = name_at(off)
    rname, o = name_at(o)
    serial, refresh, retry, expire, minimum = struct.unpack(">IIIII", buf[o:o + 20])
    # NS TTL from an NS query.
    ns = c.query(ZONE, "NS")
    return {"ttl": ttl, "mname": mname, "rname": rname, "serial": serial, "refresh": refresh,
            "retry": retry, "expire": expire, "minimum": minimum,
            "ns_ttl": ns["answers"][0][2] if ns["answers"] else ttl}


def cmd_soa(a):
    print(json.dumps(_rdata_soa(a.server, a.port)))


def cmd_check(a):
    """One line per server and query: rcode, aa, answer/authority/additional counts,
    response size; then the distribution of 600 answers for app1 (expect 1:2:3 except for
    the static servers)."""
    with open(a.profiles) as f:
        profiles = json.load(f)
    app1 = owner(profiles[0]["name"])
    checks = [(app1, "A"), (ZONE, "SOA"), (ZONE, "NS"), (f"nx-1.{ZONE}", "A"), (app1, "AAAA")]
    result = {}
    print(f"{'server':<9} " + " ".join(f"{q[0].split('.')[0][:10] + ' ' + q[1]:<26}" for q in checks))
    ok = True
    for spec in a.servers:
        name, addr = spec.split("=")
        c = Client(addr, a.port)
        cells = []
        for q in checks:
            try:
                r = c.query(*q)
                cells.append(f"{r['rcode']}{' aa' if r['aa'] else ' --'} {r['counts'][0]}/{r['counts'][1]}/{r['counts'][2]} {r['size']}B")
                if not r["aa"]:
                    ok = False
            except socket.timeout:
                cells.append("TIMEOUT")
                ok = False
        dist = {}
        for _ in range(600):
            try:
                r = c.query(app1, "A")
                addr_ = r["answers"][0][1] if r["answers"] else "-"
            except socket.timeout:
                addr_ = "timeout"
            dist[addr_] = dist.get(addr_, 0) + 1
        result[name] = dist
        print(f"{name:<9} " + " ".join(f"{x:<26}" for x in cells))
    print(f"(rcode aa an/ns/ar size; 600 x '{app1} A' answered:)")
    for name, dist in result.items():
        print(f"  {name:<9} " + ", ".join(f"{k} x{v}" for k, v in sorted(dist.items())))
    return 0 if ok else 1


# ---------------------------------------------------------------- CPU / RSS / dnsperf


TICK = os.sysconf("SC_CLK_TCK")


def _children_map():
    kids = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(pid))
    return kids


def tree(pid):
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def tree_cpu(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
            fields = st[st.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            pass
    return total / TICK


def system_cpu():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    # total, busy, softirq + steal (neither is charged to a process)
    return sum(v[:8]) / TICK, (sum(v[:8]) - idle) / TICK, (v[6] + v[7]) / TICK


def tree_rss(pid):
    """VmRSS and VmHWM (peak) summed over the process tree, and PSS (shared pages divided
    among the processes sharing them; right for multi-process servers such as nsd)."""
    rss = hwm = pss = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                    elif line.startswith("VmHWM:"):
                        hwm += int(line.split()[1])
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return {"rss_kib": rss, "hwm_kib": hwm, "pss_kib": pss, "processes": len(tree(pid))}


def cmd_rss(a):
    print(json.dumps(tree_rss(a.pid)))


def parse_dnsperf(text):
    def num(pat, cast=float):
        m = re.search(pat, text)
        return cast(m.group(1)) if m else None

    r = {
        "sent": num(r"Queries sent:\s+(\d+)", int),
        "completed": num(r"Queries completed:\s+(\d+)", int),
        "lost": num(r"Queries lost:\s+(\d+)", int),
        "interrupted": num(r"Queries interrupted:\s+(\d+)", int) or 0,
        "qps": num(r"Queries per second:\s+([\d.]+)"),
        "avg_ms": (num(r"Average Latency \(s\):\s+([\d.]+)") or 0) * 1000,
        "min_ms": (num(r"Average Latency \(s\):\s+[\d.]+ \(min ([\d.]+)") or 0) * 1000,
        "max_ms": (num(r"Average Latency \(s\):.*max ([\d.]+)\)") or 0) * 1000,
        "stddev_ms": (num(r"Latency StdDev \(s\):\s+([\d.]+)") or 0) * 1000,
        "run_s": num(r"Run time \(s\):\s+([\d.]+)"),
        "avg_size": num(r"Average packet size:\s+request \d+, response (\d+)", int),
    }
    codes = re.search(r"Response codes:\s+(.*)", text)
    r["rcodes"] = codes.group(1).strip() if codes else ""
    return r


def percentile(sorted_vals, q):
    if not sorted_vals:
        return None
    k = (len(sorted_vals) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


def cmd_dnsperf(a):
    """dnsperf with CPU accounting. With --verbose, dnsperf -v prints one line per query
    ('> NOERROR name type 0.000215', latency in seconds; timeouts as '> T name type');
    the percentiles are computed from those lines (dnsperf 2.10 has no histogram option)."""
    args = ["dnsperf", "-s", a.server, "-p", str(a.port), "-d", a.queries, "-l", str(a.seconds)] + a.opts.split()
    if a.qps:
        args += ["-Q", str(int(a.qps))]
    if a.verbose:
        args.append("-v")
    srv0 = tree_cpu(a.pid)
    tot0, busy0, sirq0 = system_cpu()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    # stdout goes to a file, parsed afterwards, so that parsing -v lines does not compete
    # with the server and dnsperf for the CPU during the run.
    raw = a.out + ".raw"
    with open(raw, "w") as f:
        p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT)
        try:
            p.wait(timeout=a.seconds + 30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            print("bench: dnsperf overran its time bound; killed", file=sys.stderr)
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    tot1, busy1, sirq1 = system_cpu()
    srv1 = tree_cpu(a.pid)
    lat = []
    timeouts = 0
    tail = []
    with open(raw) as f:
        for line in f:
            if line.startswith("> "):
                parts = line.split()
                if parts[1] == "T":
                    timeouts += 1
                else:
                    try:
                        lat.append(float(parts[-1]))
                    except ValueError:
                        pass
            else:
                tail.append(line)
    if not a.keep_raw:
        os.remove(raw)
    text = "".join(tail)
    with open(a.out + ".txt", "w") as f:
        f.write(" ".join(args) + "\n" + text)
    r = parse_dnsperf(text)
    ncpu = os.cpu_count() or 1
    r.update({
        "server": a.name,
        "args": " ".join(args),
        "target_qps": a.qps,
        "server_cpu_s": srv1 - srv0,
        "dnsperf_cpu_s": (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime),
        "system_busy_pct": 100 * (busy1 - busy0) / max(tot1 - tot0, 1e-9),
        "softirq_steal_pct": 100 * (sirq1 - sirq0) / max(tot1 - tot0, 1e-9),
        "wall_s": wall,
        "ncpu": ncpu,
    })
    # CPU the rest of the machine used during the run (other builds etc.), in cores: all busy
    # time minus softirq (loopback packet processing, not charged to any process), minus steal
    # (the hypervisor), minus the server and dnsperf.
    r["other_cores"] = max(0.0, ((busy1 - busy0) - (sirq1 - sirq0) - r["server_cpu_s"] - r["dnsperf_cpu_s"])
                           / max(wall, 1e-9))
    if r["completed"]:
        r["server_us_per_query"] = 1e6 * r["server_cpu_s"] / r["completed"]
    if a.verbose:
        lat.sort()
        r["samples"] = len(lat)
        r["timeouts_v"] = timeouts
        for q, k in ((0.5, "p50_ms"), (0.9, "p90_ms"), (0.99, "p99_ms"), (0.999, "p999_ms")):
            v = percentile(lat, q)
            r[k] = v * 1000 if v is not None else None
    with open(a.out + ".json", "w") as f:
        json.dump(r, f, indent=1)
    line = (f"  {a.name:<10} {r['qps'] or 0:>10,.0f} qps  avg {r['avg_ms']:.3f} ms  lost {r['lost']}"
            f"  server {100 * r['server_cpu_s'] / max(wall, 1e-9):.0f}% core"
            f"  dnsperf {100 * r['dnsperf_cpu_s'] / max(wall, 1e-9):.0f}%  other {100 * r['other_cores']:.0f}%")
    if a.verbose and r.get("p99_ms") is not None:
        line += f"  p50 {r['p50_ms']:.3f} p99 {r['p99_ms']:.3f} ms ({r['samples']} samples)"
    else:
        line += "  [" + re.sub(r"(\w+) \d+ \(([\d.]+%)\)", r"\1 \2", r["rcodes"]) + "]"
    print(line, flush=True)
    return 0 if r["qps"] is not None else 1


# ---------------------------------------------------------------- config change → answers


def cmd_reload(a):
    """Rewrite the config with the 'reload' profile's endpoint moved, then query its name every
    ~1 ms until the new address is answered. mode=poll relies on fleetdns's 0.5 s file poll
    (a random pause before each change spreads the poll phase); mode=hup also sends SIGHUP
    right after the rename. Times are from the rename to the first new answer."""
    name = owner("reload")
    with open(a.config) as f:
        text = f.read()
    c = Client(a.server, a.port, timeout=0.2)
    rng = random.Random(5)
    times = []
    cur = re.search(r'name: reload, loadBalancer: \["(127\.2\.0\.\d+)"\]', text).group(1)
    for i in range(a.trials):
        new = f"127.2.0.{(int(cur.split('.')[-1]) % 200) + 1}"
        new_text = text.replace(f'name: reload, loadBalancer: ["{cur}"]', f'name: reload, loadBalancer: ["{new}"]')
        # make sure the old address is being served before changing
        r = c.query(name, "A")
        if not r["answers"] or r["answers"][0][1] != cur:
            print(f"bench: reload: expected {cur} before the change, got {r['answers']}", file=sys.stderr)
        time.sleep(rng.uniform(0.2, 0.9))
        tmp = a.config + ".tmp"
        with open(tmp, "w") as f:
            f.write(new_text)
        os.replace(tmp, a.config)
        t0 = time.monotonic()
        if a.mode == "hup":
            os.kill(a.pid, signal.SIGHUP)
        deadline = t0 + a.timeout
        got = None
        while time.monotonic() < deadline:
            try:
                r = c.query(name, "A")
                if r["answers"] and r["answers"][0][1] == new:
                    got = time.monotonic() - t0
                    break
            except socket.timeout:
                pass
            time.sleep(0.001)
        times.append(got * 1000 if got is not None else None)
        text, cur = new_text, new
    ok = [t for t in times if t is not None]
    res = {"mode": a.mode, "trials": times, "median_ms": statistics.median(ok) if ok else None,
           "min_ms": min(ok) if ok else None, "max_ms": max(ok) if ok else None,
           "failed": len(times) - len(ok)}
    with open(a.out, "w") as f:
        json.dump(res, f)
    print(f"  reload ({a.mode}): " + ", ".join("timeout" if t is None else f"{t:.0f}" for t in times) + " ms")
    return 0 if not res["failed"] else 1


# ---------------------------------------------------------------- report


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def fmt(v, spec, dash="–"):
    return dash if v is None else format(v, spec)


def cmd_report(a):
    d = a.dir
    servers = a.servers.split(",")
    rounds = sorted({int(m.group(1)) for f in os.listdir(d) for m in [re.match(r"max-r(\d+)-", f)] if m})
    rows = {}
    for s in servers:
        runs = [load(os.path.join(d, f"max-r{r}-{s}.json")) for r in rounds]
        runs = [x for x in runs if x and x.get("qps") is not None]
        if not runs:
            continue
        half = load(os.path.join(d, f"half-{s}.json"))
        rss = load(os.path.join(d, f"rss-{s}.json"))
        qps = [x["qps"] for x in runs]
        med = statistics.median(qps)
        rows[s] = {
            "qps": med, "qps_min": min(qps), "qps_max": max(qps),
            "avg_ms": statistics.median(x["avg_ms"] for x in runs),
            "lost": sum(x["lost"] or 0 for x in runs),
            "sent": sum(x["sent"] or 0 for x in runs),
            "us_q": statistics.median(x.get("server_us_per_query") or 0 for x in runs),
            "other": max(x.get("other_cores", 0) for x in runs),
            "half": half, "rss": rss, "size": runs[0].get("avg_size"),
        }
    fl = rows.get("fleetdns")
    labels = load(os.path.join(d, "labels.json")) or {}
    out = []
    out.append(f"Saturated: median of {len(rounds)} round(s) of `dnsperf {a.opts} -l {a.seconds}`; "
               f"half load: `-Q` = 50% of the server's median QPS, with `-v`, p99 from per-query latencies.")
    out.append("")
    out.append("| server | QPS (median) | QPS range | avg latency | lost / sent | half-load QPS | p50 @half | p99 @half | lost @half | server CPU/query | memory (PSS) | fleetdns / peer QPS |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s, r in rows.items():
        h = r["half"] or {}
        ratio = "–" if s.startswith("fleetdns") or not fl else f"{fl['qps'] / r['qps']:.2f}×"
        out.append(
            f"| {labels.get(s, s)} | {r['qps']:,.0f} | {r['qps_min']:,.0f}–{r['qps_max']:,.0f} | {r['avg_ms']:.3f} ms "
            f"| {r['lost']:,} / {r['sent']:,} | {fmt(h.get('qps'), ',.0f')} | {fmt(h.get('p50_ms'), '.3f')} ms | **{fmt(h.get('p99_ms'), '.3f')} ms** "
            f"| {fmt(h.get('lost'), ',')} | {r['us_q']:.1f} µs | {fmt((r['rss'] or {}).get('pss_kib', None) and r['rss']['pss_kib'] / 1024, '.1f')} MiB | {ratio} |")
    noisy = [s for s, r in rows.items() if r["other"] > 0.1]
    if noisy:
        out.append("")
        out.append(f"Note: other processes used up to {max(rows[s]['other'] for s in noisy):.2f} cores during the "
                   f"runs of {', '.join(noisy)} (the machine was not idle): treat these QPS figures as noisy.")
    # scale
    scale = []
    for n in [x for x in a.scale.split(",") if x]:
        meta = load(os.path.join(d, f"scale-{n}-meta.json"))
        if meta:
            meta["perf"] = load(os.path.join(d, f"scale-{n}-perf.json")) or {}
            meta["reload"] = load(os.path.join(d, f"scale-{n}-reload.json")) or {}
            meta["idle"] = load(os.path.join(d, f"scale-{n}-rss-idle.json")) or {}
            meta["after"] = load(os.path.join(d, f"scale-{n}-rss-after.json")) or {}
            scale.append(meta)
    if scale:
        out.append("")
        out.append("fleetdns at scale (same mix and dnsperf settings; profile names drawn over all names):")
        out.append("")
        out.append("| profile names | config file | start to first answer | QPS | avg latency | lost / sent | RSS idle | RSS after load | peak RSS (VmHWM) | SIGHUP to new answer |")
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for x in scale:
            p, rl = x["perf"], x["reload"]
            if x.get("status") != "ok":
                out.append(f"| {x['n']:,} | {x['config_bytes'] / 2**20:.1f} MiB, {x['docs']:,} documents "
                           f"| not served: {x.get('error', '').replace('|', '/')} | – | – | – | – | – | – | – |")
                continue
            mib = lambda k, src: fmt(src.get(k) and src[k] / 1024, ".1f")
            out.append(
                f"| {x['n']:,} | {x['config_bytes'] / 2**20:.1f} MiB, {x['docs']:,} documents | {x['startup_s']:.1f} s "
                f"| {fmt(p.get('qps'), ',.0f')} | {fmt(p.get('avg_ms'), '.3f')} ms | {fmt(p.get('lost'), ',')} / {fmt(p.get('sent'), ',')} "
                f"| {mib('rss_kib', x['idle'])} MiB | {mib('rss_kib', x['after'])} MiB | {mib('hwm_kib', x['after'])} MiB "
                f"| {fmt(rl.get('median_ms'), '.0f')} ms |")
    rl = [load(os.path.join(d, f"reload-{m}.json")) for m in ("poll", "hup")]
    rl = [x for x in rl if x]
    if rl:
        out.append("")
        out.append("Config change to new answers (base config; the 'reload' profile's endpoint address is changed "
                   "by an atomic rename of the file; queried every ~1 ms):")
        out.append("")
        out.append("| trigger | trials | median | min | max |")
        out.append("|---|---|---|---|---|")
        for x in rl:
            trig = "file poll (every 0.5 s)" if x["mode"] == "poll" else "SIGHUP right after the change"
            out.append(f"| {trig} | {len(x['trials'])} | {fmt(x['median_ms'], '.0f')} ms | {fmt(x['min_ms'], '.0f')} ms | {fmt(x['max_ms'], '.0f')} ms |")
    text = "\n".join(out) + "\n"
    with open(os.path.join(d, "report.md"), "w") as f:
        f.write(text)
    print(text)


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("gen-main")
    p.add_argument("--dir", required=True)
    p.add_argument("--profiles", type=int, default=4)
    p = sub.add_parser("gen-peers")
    p.add_argument("--dir", required=True)
    p.add_argument("--soa", required=True)
    p.add_argument("--port", type=int, default=53)
    for s in ("knot", "nsd", "gdnsd", "pdns"):
        p.add_argument(f"--{s}", required=True)
    p = sub.add_parser("gen-scale")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--queries", required=True)
    p.add_argument("--lines", type=int, default=200000)
    p = sub.add_parser("wait")
    p.add_argument("--server", required=True)
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--timeout", type=float, default=20)
    p.add_argument("--pid", type=int)
    p = sub.add_parser("soa")
    p.add_argument("--server", required=True)
    p.add_argument("--port", type=int, default=53)
    p = sub.add_parser("check")
    p.add_argument("--profiles", required=True)
    p.add_argument("--port", type=int, default=53)
    p.add_argument("servers", nargs="+")
    p = sub.add_parser("dnsperf")
    p.add_argument("--name", required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--queries", required=True)
    p.add_argument("--seconds", type=int, required=True)
    p.add_argument("--opts", required=True)
    p.add_argument("--qps", type=float)
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--keep-raw", action="store_true")
    p.add_argument("--out", required=True)
    p = sub.add_parser("reload")
    p.add_argument("--server", required=True)
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--mode", choices=["poll", "hup"], required=True)
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--out", required=True)
    p = sub.add_parser("rss")
    p.add_argument("--pid", type=int, required=True)
    p = sub.add_parser("report")
    p.add_argument("--dir", required=True)
    p.add_argument("--servers", required=True)
    p.add_argument("--opts", required=True)
    p.add_argument("--seconds", required=True)
    p.add_argument("--scale", default="")
    a = ap.parse_args()
    fn = globals()["cmd_" + a.cmd.replace("-", "_")]
    sys.exit(fn(a) or 0)


if __name__ == "__main__":
    main()
