#!/usr/bin/env python3
"""Knot beside fleetdns at N profile names, in one run (issue 20): start-up time to the first
answer and memory, then dnsperf QPS against fleetdns and knot at N names and at a small fleet
(same query mix shape), so "QPS does not depend on the number of names"
is measured, not assumed. Prints a Markdown table; raw results in the output directory.

  python3 scripts/bench_scale.py --binary target/release/fleetdns            # 100k vs 100
  python3 scripts/bench_scale.py --binary target/release/fleetdns --n 200 --small 20 \\
      --seconds 1 --rounds 1                                                   # smoke run

Configs come from `bench_helper.py gen-scale` (3 endpoints per name, equal weights, every
export always-serve: no health probes). knot's zone has the same owner names, the SOA/NS/glue
fleetdns serves (read from it) and, per name, the A records of all its endpoints (fleetdns
holds the same endpoints and answers one of them per query; `--knot-answer one` gives knot
only the first, for the same answer size). Servers start one at a time, so each load is
measured alone; all are then left running and the dnsperf rounds alternate between them.
Needs knotd, knotc and dnsperf (apt: knot, dnsperf). Loopback only (127.0.79.1-4); every
process is started here and stopped by its PID."""
import argparse, contextlib, json, os, random, signal, statistics, subprocess, sys, tempfile, time
sys.dont_write_bytecode = True  # no __pycache__ in scripts/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_helper as bh  # noqa: E402
import scale_probe as sp  # noqa: E402

SERVERS = ("fleetdns-n", "knot-n", "fleetdns-small", "knot-small")


def mib(kib):
    return round(kib / 1024.0, 1)


def gen(n, d, tag, lines):
    cfg, queries = os.path.join(d, f"{tag}.yaml"), os.path.join(d, f"{tag}-queries.txt")
    bh.cmd_gen_scale(argparse.Namespace(n=n, config=cfg, queries=queries, lines=lines))
    return cfg, queries


def knot_zone(path, profiles, soa, answer):
    """The zone fleetdns serves for these profiles, as static records."""
    with open(path, "w") as f:
        f.write("\n".join(bh.zone_head(soa)) + "\n")
        for p in profiles:
            eps = p["endpoints"] if answer == "all" else p["endpoints"][:1]
            label = f"{bh.PROFILE_NS}-{p['name']}"
            for _c, addr, _w in eps:
                f.write(f"{label} {bh.ANSWER_TTL} IN A {addr}\n")


def check(addrs, port, profiles, knot_answer, samples=200):
    """Same answers: for sampled names fleetdns answers one of the endpoints (and over the
    samples, more than one of them) and knot the endpoint set; NXDOMAIN and NODATA alike."""
    rng = random.Random(3)
    picks = [profiles[0], profiles[-2]] + rng.sample(profiles[:-1], min(samples, len(profiles) - 1))
    bad = []
    fc, kc = bh.Client(addrs["fleetdns-n"], port), bh.Client(addrs["knot-n"], port)
    for p in picks:
        name = bh.owner(p["name"])
        want = {e[1] for e in p["endpoints"]}
        f, k = fc.query(name, "A"), kc.query(name, "A")
        got_f = {a[1] for a in f["answers"] if a[0] == "A"}
        got_k = {a[1] for a in k["answers"] if a[0] == "A"}
        want_k = want if knot_answer == "all" else {p["endpoints"][0][1]}
        if f["rcode"] != "NOERROR" or not f["aa"] or len(got_f) != 1 or not got_f <= want:
            bad.append(f"fleetdns {name} A: {f['rcode']} {sorted(got_f)}, want one of {sorted(want)}")
        if k["rcode"] != "NOERROR" or not k["aa"] or got_k != want_k:
            bad.append(f"knot {name} A: {k['rcode']} {sorted(got_k)}, want {sorted(want_k)}")
    for q, rcode, an in ((f"nx-1.{bh.ZONE}", "NXDOMAIN", 0), (bh.owner(picks[0]["name"]), "NOERROR", 0)):
        qtype = "A" if rcode == "NXDOMAIN" else "AAAA"
        for s in ("fleetdns-n", "knot-n"):
            r = bh.Client(addrs[s], port).query(q, qtype)
            if r["rcode"] != rcode or r["counts"][0] != an or not r["aa"]:
                bad.append(f"{s} {q} {qtype}: {r['rcode']} {r['counts']}, want {rcode} with {an} answers")
    # equal weights: over 60 queries one name should get every one of its endpoints
    spread = {fc.query(bh.owner(picks[0]["name"]), "A")["answers"][0][1] for _ in range(60)}
    if len(spread) != len(picks[0]["endpoints"]):
        bad.append(f"fleetdns {bh.owner(picks[0]['name'])} A: 60 queries gave {sorted(spread)}")
    return {"names": len(picks), "problems": bad, "weighted_spread": len(spread)}


def free(addrs, port):
    out = subprocess.run(["ss", "-Hlun"], capture_output=True, text=True).stdout
    taken = [a for a in addrs.values() if f"{a}:{port}" in out]
    if taken:
        raise SystemExit(f"bench_scale: something already listens on {taken} port {port}; stop it first")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True, help="fleetdns binary (a release build)")
    ap.add_argument("--n", type=int, default=100000, help="profile names in the large fleet")
    ap.add_argument("--small", type=int, default=100, help="profile names in the small fleet")
    ap.add_argument("--seconds", type=int, default=10, help="length of each dnsperf run")
    ap.add_argument("--rounds", type=int, default=3, help="alternated rounds; medians are reported")
    ap.add_argument("--dnsperf", default="-c 10 -T 1 -q 100", help="dnsperf client options (as bench.sh)")
    ap.add_argument("--rate", type=int, default=50000,
                    help="then one run per server capped at this QPS (CPU per query at equal load); 0: none")
    ap.add_argument("--knot-answer", choices=["all", "one"], default="all")
    ap.add_argument("--port", type=int, default=5399)
    ap.add_argument("--timeout", type=float, default=600, help="start-up bound per server, s")
    ap.add_argument("--settle", type=float, default=3, help="pause after the first answer before RSS, s")
    ap.add_argument("--out", help="results directory (default: a new /tmp/bench-scale.XXXXXX)")
    a = ap.parse_args()
    for tool in ("knotd", "knotc", "dnsperf"):
        if not any(os.access(os.path.join(d, tool), os.X_OK)
                   for d in os.environ.get("PATH", "").split(":") + ["/usr/sbin", "/sbin"]):
            raise SystemExit(f"bench_scale: {tool} not found (apt-get install knot dnsperf)")
    os.environ["PATH"] += ":/usr/sbin:/sbin"
    d = a.out or tempfile.mkdtemp(prefix="bench-scale.")
    os.makedirs(d, exist_ok=True)
    addrs = dict(zip(SERVERS, ("127.0.79.1", "127.0.79.2", "127.0.79.3", "127.0.79.4")))
    free(addrs, a.port)
    t_start = time.monotonic()
    load0 = open("/proc/loadavg").read().split()[0]
    # SIGTERM/SIGINT unwind through finally, which stops what was started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    procs, res = {}, {s: {} for s in SERVERS}
    env = dict(os.environ, FLEETDNS_LOG=os.environ.get("FLEETDNS_LOG", "warn"))

    def start(name, argv, size_path):
        p, first = sp.start_until_answer(argv, addrs[name], a.port, a.timeout, os.path.join(d, f"{name}.log"),
                                         env=env)
        procs[name] = p
        time.sleep(a.settle)
        m = bh.tree_rss(p.pid)
        res[name].update(first_answer_s=round(first, 2), rss_mib=mib(m["rss_kib"]), peak_mib=mib(m["hwm_kib"]),
                         input_mib=round(os.path.getsize(size_path) / 2**20, 1))
        print(f"  {name}: first answer {first:.2f} s, RSS {mib(m['rss_kib'])} MiB, peak {mib(m['hwm_kib'])} MiB",
              flush=True)

    try:
        print(f"== configs in {d}", flush=True)
        big_cfg, big_q = gen(a.n, d, f"fleet-{a.n}", 200000)
        small_cfg, small_q = gen(a.small, d, f"fleet-{a.small}", 200000)
        queries = {"fleetdns-n": big_q, "knot-n": big_q, "fleetdns-small": small_q, "knot-small": small_q}

        print("== start-up, one server at a time", flush=True)

        def fleetdns(name, cfg):
            return [a.binary, "serve", "--config", cfg, "--listen", f"{addrs[name]}:{a.port}",
                    "--admin", f"{addrs[name]}:19399"]
        def knot(name, n, soa_from):
            kd = os.path.join(d, name)
            os.makedirs(kd, exist_ok=True)
            zone = os.path.join(kd, f"{bh.ZONE}.zone")
            knot_zone(zone, bh.scale_profiles(n), bh._rdata_soa(addrs[soa_from], a.port), a.knot_answer)
            with open(os.path.join(kd, "knot.conf"), "w") as f:
                f.write(bh.knot_conf(kd, addrs[name], a.port))
            subprocess.run(["knotc", "-c", os.path.join(kd, "knot.conf"), "conf-check"], check=True,
                           stdout=subprocess.DEVNULL)
            start(name, ["knotd", "-c", os.path.join(kd, "knot.conf")], zone)
        start("fleetdns-n", fleetdns("fleetdns-n", big_cfg), big_cfg)
        knot("knot-n", a.n, "fleetdns-n")
        start("fleetdns-small", fleetdns("fleetdns-small", small_cfg), small_cfg)
        knot("knot-small", a.small, "fleetdns-small")

        print("== equivalence check", flush=True)
        chk = check(addrs, a.port, bh.scale_profiles(a.n), a.knot_answer)
        print(f"  {chk['names']} names: {len(chk['problems'])} problems", flush=True)
        for line in chk["problems"][:10]:
            print("  " + line)

        def perf(name, out, seconds, qps=None):
            return bh.cmd_dnsperf(argparse.Namespace(
                name=name, server=addrs[name], port=a.port, pid=procs[name].pid, queries=queries[name],
                seconds=seconds, opts=a.dnsperf, qps=qps, verbose=False, keep_raw=False, out=out))

        print(f"== dnsperf {a.dnsperf} -l {a.seconds}: warm-up (2 s each), then {a.rounds} round(s)", flush=True)
        for s in SERVERS:
            with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
                perf(s, os.path.join(d, f"warmup-{s}"), min(2, a.seconds))
        for r in range(a.rounds):
            for s in SERVERS[r % len(SERVERS):] + SERVERS[:r % len(SERVERS)]:
                perf(s, os.path.join(d, f"r{r + 1}-{s}"), a.seconds)
                time.sleep(1)
        if a.rate:
            print(f"== capped at {a.rate:,} QPS, one run each", flush=True)
            for s in SERVERS:
                perf(s, os.path.join(d, f"capped-{s}"), a.seconds, a.rate)
                time.sleep(1)
        for s in SERVERS:
            m = bh.tree_rss(procs[s].pid)
            res[s].update(rss_after_mib=mib(m["rss_kib"]), peak_after_mib=mib(m["hwm_kib"]))
    finally:
        for p in procs.values():
            sp.stop(p)
        for n in (a.n, a.small):  # the generated inputs (70 MiB at 100k); results stay
            for f in (f"fleet-{n}.yaml", f"fleet-{n}-queries.txt"):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(d, f))

    for s in SERVERS:
        capped = bh.load(os.path.join(d, f"capped-{s}.json"))
        if capped and capped.get("qps"):
            res[s].update(capped_qps=capped["qps"], capped_us_per_query=capped.get("server_us_per_query"),
                          capped_avg_ms=capped["avg_ms"], capped_lost=capped["lost"])
        runs = [bh.load(os.path.join(d, f"r{r + 1}-{s}.json")) for r in range(a.rounds)]
        runs = [x for x in runs if x and x.get("qps")]
        if runs:
            qps = [x["qps"] for x in runs]
            res[s].update(qps=statistics.median(qps), qps_min=min(qps), qps_max=max(qps),
                          avg_ms=statistics.median(x["avg_ms"] for x in runs),
                          lost=sum(x["lost"] or 0 for x in runs), completed=sum(x["completed"] or 0 for x in runs),
                          us_per_query=statistics.median(x.get("server_us_per_query", 0) for x in runs),
                          us_per_query_min=min(x.get("server_us_per_query", 0) for x in runs),
                          avg_size=runs[0]["avg_size"], rcodes=runs[0]["rcodes"],
                          other_cores=statistics.median(x["other_cores"] for x in runs),
                          other_cores_max=max(x["other_cores"] for x in runs))
    knot_ver = (subprocess.run(["knotd", "--version"], capture_output=True, text=True).stdout.split() or ["?"])[-1]
    fdns_ver = subprocess.run([a.binary, "--version"], capture_output=True, text=True).stdout.strip()
    out = {"n": a.n, "small": a.small, "args": sys.argv[1:], "check": chk, "servers": res,
           "knot": knot_ver, "fleetdns": fdns_ver, "total_s": round(time.monotonic() - t_start),
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(), "load1": load0}
    with open(os.path.join(d, "results.json"), "w") as f:
        json.dump(out, f, indent=1)
    table = report(out, a)
    with open(os.path.join(d, "table.md"), "w") as f:
        f.write(table)
    print("\n" + table)
    print(f"results in {d}")
    return 1 if chk["problems"] else 0


def report(o, a):
    r = o["servers"]
    cols = [f"fleetdns, {o['n']:,} names", f"knot {o['knot']}, {o['n']:,} names", f"fleetdns, {o['small']:,} names",
            f"knot, {o['small']:,} names"]
    f = bh.fmt

    def row(label, key, spec, suffix=""):
        return f"| {label} | " + " | ".join(f(r[s].get(key), spec) + (suffix if r[s].get(key) is not None else "")
                                            for s in SERVERS) + " |"
    qps_range = " | ".join(f"{f(r[s].get('qps_min'), ',.0f')} – {f(r[s].get('qps_max'), ',.0f')}" for s in SERVERS)
    lines = [
        f"| {o['fleetdns']}, {o['date']} | " + " | ".join(cols) + " |",
        "|---|---|---|---|---|",
        row("input (YAML config / zone file), MiB", "input_mib", ".1f"),
        row("start to first answer (apex SOA), s", "first_answer_s", ".2f"),
        row(f"RSS while serving ({a.settle:g} s after), MiB", "rss_mib", ".0f"),
        row("peak while loading (VmHWM), MiB", "peak_mib", ".0f"),
        row("RSS after the dnsperf runs, MiB", "rss_after_mib", ".0f"),
        row(f"**QPS**, median of {a.rounds} × {a.seconds} s", "qps", ",.0f"),
        f"| QPS range of the rounds | {qps_range} |",
        row("avg latency (median), ms", "avg_ms", ".3f"),
        row("lost (all rounds)", "lost", "d"),
        row("QPS of the best round (least disturbed)", "qps_max", ",.0f"),
        row("other processes' CPU during a run (median), cores", "other_cores", ".2f"),
        row("server CPU per query (median), µs", "us_per_query", ".1f"),
        row("server CPU per query (lowest round), µs", "us_per_query_min", ".1f"),
        row("avg response size, B", "avg_size", "d"),
    ]
    if a.rate:
        lines += [
            row(f"capped at {a.rate:,} QPS: QPS reached", "capped_qps", ",.0f"),
            row(f"capped at {a.rate:,} QPS: server CPU per query, µs", "capped_us_per_query", ".1f"),
            row(f"capped at {a.rate:,} QPS: avg latency, ms", "capped_avg_ms", ".3f"),
        ]
    lines.append("")
    for srv in ("fleetdns", "knot"):
        bn, sn = r[f"{srv}-n"], r[f"{srv}-small"]
        if not (bn.get("qps") and sn.get("qps")):
            continue
        cpu = (f"; CPU per query capped {bn['capped_us_per_query'] / sn['capped_us_per_query']:.2f}×"
               if bn.get("capped_us_per_query") and sn.get("capped_us_per_query") else "")
        lines.append(f"{srv} at {o['n']:,} names against {o['small']:,} names: QPS median {100 * bn['qps'] / sn['qps']:.0f} %, "
                     f"best round {100 * bn['qps_max'] / sn['qps_max']:.0f} % (round-to-round spread ±{spread(bn):.0f} % "
                     f"and ±{spread(sn):.0f} %){cpu}.")
    c = o["check"]
    lines.append(f"Equivalence check: {c['names']} sampled names, {len(c['problems'])} problems; "
                 f"knot answers {'all endpoints' if a.knot_answer == 'all' else 'the first endpoint'} per name, "
                 f"fleetdns one per query. {o['cpus']} CPUs shared by dnsperf and the server; load average "
                 f"{o['load1']} at the start, other processes used up to "
                 f"{max(r[s].get('other_cores_max', 0) for s in SERVERS):.2f} cores during a run. Total {o['total_s']} s.")
    lines.append(f"Command: `python3 scripts/bench_scale.py {' '.join(o['args'])}`")
    return "\n".join(lines) + "\n"


def spread(x):
    return 100 * (x["qps_max"] - x["qps_min"]) / 2 / x["qps"] if x.get("qps") else 0


if __name__ == "__main__":
    sys.exit(main())
