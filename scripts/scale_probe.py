#!/usr/bin/env python3
"""Start fleetdns on a scale config and measure: time to the first SOA answer, VmRSS when
serving, VmHWM (peak while loading), and the time from a one-profile change (file rename +
SIGHUP, or the 0.5 s poll alone) to the first answer with the new address.

  python3 scripts/scale_probe.py --binary target/release/fleetdns --config /tmp/c100k.yaml \
      [--server 127.0.77.9 --port 5399] [--trials 3] [--mode hup|poll|both]

The config must come from `bench_helper.py gen-scale` (it has the `reload` profile). The
process is started and stopped by its PID; output is one JSON object."""
import argparse, json, os, signal, subprocess, sys, time
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--server", default="127.0.77.9")
    ap.add_argument("--port", type=int, default=5399)
    ap.add_argument("--admin", default="127.0.77.9:9399")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--mode", default="both")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--log", default="/dev/null")
    a = ap.parse_args()
    res = {"config_bytes": os.path.getsize(a.config)}
    p, first = start_until_answer([a.binary, "serve", "--config", a.config, "--listen", f"{a.server}:{a.port}",
                                   "--admin", a.admin], a.server, a.port, a.timeout, a.log)
    try:
        res["first_answer_s"] = round(first, 2)
        time.sleep(3)
        s = status(p.pid)
        res["rss_serving_mib"] = round(s["VmRSS"], 1)
        res["peak_mib"] = round(s["VmHWM"], 1)
        modes = ["poll", "hup"] if a.mode == "both" else [a.mode]
        for mode in modes:
            out = f"/tmp/scale_probe_reload_{os.getpid()}.json"
            ns = argparse.Namespace(server=a.server, port=a.port, config=a.config, pid=p.pid,
                                    trials=a.trials, mode=mode, timeout=120, out=out)
            bh.cmd_reload(ns)
            with open(out) as f:
                res[f"reload_{mode}"] = json.load(f)
            os.unlink(out)
        if modes:
            time.sleep(2)
            s = status(p.pid)
            res["rss_after_reloads_mib"] = round(s["VmRSS"], 1)
            res["peak_after_reloads_mib"] = round(s["VmHWM"], 1)
    finally:
        stop(p)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
