#!/usr/bin/env python3
"""Start fleetdns on a scale config and measure: time to the first SOA answer, VmRSS when
serving, VmHWM (peak while loading), and the time from a one-profile change (file rename +
SIGHUP, or the 0.5 s poll alone) to the first answer that shows it. Two edits: `service`
changes the `reload` Service's address (an entry of the 20 MB settings document) and waits
for the new address; `profile` changes the `reload` TrafficManagerProfile's own document
(its fleetdns.io/ttl annotation) and waits for the new TTL. Last, the VmRSS once it has
served a minute (--steady seconds after the first answer; the status page's answer readings
span a minute).

  python3 scripts/scale_probe.py --binary target/release/fleetdns --config /tmp/c100k.yaml \
      [--server 127.0.77.9 --port 5399] [--trials 3] [--mode hup|poll|both] \
      [--edit service|profile|both]

The config must come from `bench_helper.py gen-scale` (it has the `reload` profile). The
process is started and stopped by its PID; output is one JSON object."""
import argparse, json, os, random, re, signal, socket, statistics, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_helper as bh  # noqa: E402


def status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) / 1024.0
    return out


def start_until_answer(argv, server, port, timeout, log="/dev/null", env=None):
    """Start argv and query the apex SOA every 50 ms until a NOERROR answer with the SOA comes
    back. Returns (process, seconds from start to that answer); stops the process and exits
    if it dies first or the timeout passes."""
    with open(log, "w") as out:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdout=out, stderr=out, env=env)
    c = bh.Client(server, port, timeout=0.2)
    while True:
        if p.poll() is not None:
            raise SystemExit(f"{argv[0]} exited with {p.returncode} before answering (log: {log})")
        if time.monotonic() - t0 > timeout:
            stop(p)
            raise SystemExit(f"{argv[0]}: no answer from {server}:{port} within {timeout} s (log: {log})")
        try:
            r = c.query(bh.ZONE, "SOA")
            if r["rcode"] == "NOERROR" and r["counts"][0] >= 1:
                return p, time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.05)


def stop(p):
    """SIGTERM the process we started, SIGKILL after 10 s; reap it."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


PROFILE_DOC = re.compile(r"metadata: \{name: reload, namespace: bench(?:, annotations: \{fleetdns\.io/ttl: \"(\d+)\"\})?\}\nspec: \{resourceGroup")


def reload_profile(a):
    """Like bench_helper's reload, but the edit is the reload profile's TTL annotation (its own
    document): rewrite the file with a new TTL, then query the profile's name every ~1 ms until
    an answer carries that TTL. Times are from the rename to that answer."""
    name = bh.owner("reload")
    with open(a.config) as f:
        text = f.read()
    c = bh.Client(a.server, a.port, timeout=0.2)
    rng = random.Random(7)
    times = []
    for i in range(a.trials):
        m = PROFILE_DOC.search(text)
        if not m:
            raise SystemExit("the config has no reload TrafficManagerProfile (use bench_helper.py gen-scale)")
        cur = int(m.group(1)) if m.group(1) else None
        new = 11 + (((cur or 10) - 10) % 40)
        doc = f'metadata: {{name: reload, namespace: bench, annotations: {{fleetdns.io/ttl: "{new}"}}}}\nspec: {{resourceGroup'
        new_text = text[:m.start()] + doc + text[m.end():]
        r = c.query(name, "A")
        if not r["answers"] or (cur is not None and r["answers"][0][2] != cur):
            print(f"probe: profile edit: expected TTL {cur} before the change, got {r['answers']}", file=sys.stderr)
        time.sleep(rng.uniform(0.2, 0.9))
        tmp = a.config + ".tmp"
        with open(tmp, "w") as f:
            f.write(new_text)
        os.replace(tmp, a.config)
        t0 = time.monotonic()
        if a.mode == "hup":
            os.kill(a.pid, signal.SIGHUP)
        got = None
        while time.monotonic() < t0 + a.timeout:
            try:
                r = c.query(name, "A")
                if r["answers"] and r["answers"][0][2] == new:
                    got = time.monotonic() - t0
                    break
            except socket.timeout:
                pass
            time.sleep(0.001)
        times.append(got * 1000 if got is not None else None)
        text = new_text
    ok = [t for t in times if t is not None]
    return {"mode": a.mode, "edit": "profile", "trials": times,
            "median_ms": statistics.median(ok) if ok else None,
            "min_ms": min(ok) if ok else None, "max_ms": max(ok) if ok else None,
            "failed": len(times) - len(ok)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--server", default="127.0.77.9")
    ap.add_argument("--port", type=int, default=5399)
    ap.add_argument("--admin", default="127.0.77.9:9399")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--mode", default="both")
    ap.add_argument("--edit", default="service", choices=["service", "profile", "both"])
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--log", default="/dev/null")
    ap.add_argument("--steady", type=float, default=70,
                    help="seconds after the first answer to read the steady RSS")
    a = ap.parse_args()
    res = {"config_bytes": os.path.getsize(a.config)}
    p, first = start_until_answer([a.binary, "serve", "--config", a.config, "--listen", f"{a.server}:{a.port}",
                                   "--admin", a.admin], a.server, a.port, a.timeout, a.log)
    started = time.monotonic()
    try:
        res["first_answer_s"] = round(first, 2)
        time.sleep(3)
        s = status(p.pid)
        res["rss_serving_mib"] = round(s["VmRSS"], 1)
        res["peak_mib"] = round(s["VmHWM"], 1)
        modes = ["poll", "hup"] if a.mode == "both" else [a.mode]
        edits = ["service", "profile"] if a.edit == "both" else [a.edit]
        for mode in modes:
            out = f"/tmp/scale_probe_reload_{os.getpid()}.json"
            ns = argparse.Namespace(server=a.server, port=a.port, config=a.config, pid=p.pid,
                                    trials=a.trials, mode=mode, timeout=120, out=out)
            for edit in edits:
                if edit == "service":
                    bh.cmd_reload(ns)
                    with open(out) as f:
                        r = json.load(f)
                    os.unlink(out)
                    r["edit"] = "service"
                else:
                    r = reload_profile(ns)
                    print(f"  reload ({mode}, profile): " + ", ".join(
                        "timeout" if t is None else f"{t:.0f}" for t in r["trials"]) + " ms")
                key = f"reload_{mode}" if a.edit == "service" else f"reload_{mode}_{edit}"
                res[key] = r
        if modes:
            time.sleep(2)
            s = status(p.pid)
            res["rss_after_reloads_mib"] = round(s["VmRSS"], 1)
            res["peak_after_reloads_mib"] = round(s["VmHWM"], 1)
        # Steady state: the status page keeps a minute of answer-counter readings,
        # so what the process holds is known only after it has served a minute.
        wait = a.steady - (time.monotonic() - started)
        if wait > 0:
            time.sleep(wait)
        res["rss_after_a_minute_mib"] = round(status(p.pid)["VmRSS"], 1)
    finally:
        stop(p)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
