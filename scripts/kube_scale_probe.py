#!/usr/bin/env python3
"""Kubernetes mode at scale (issue 20): the time from one change in a fake cluster to the
first DNS answer that shows it.

  python3 scripts/kube_scale_probe.py [--sizes 1000,10000,100000] [--trials 5] \
      [--bin-dir target/release] [--status]

For each size N it writes seed files (hub: N TrafficManagerProfiles and N
TrafficManagerBackends; member-1: N LoadBalancer Services with an address and N
ServiceExports, fleetdns.io/always-serve so no probe runs; --per-namespace of each in a
namespace), starts `kubefake --seed` with a
hub and one member on loopback, starts `fleetdns serve` in Kubernetes mode on them (status
write-back off unless --status), and waits for the last profile's answer. Then, per trial, it
merge-patches one Service's load-balancer address through the status subresource (as a cloud
controller does) and queries that profile's name over UDP every millisecond until the new
address is answered: the figure is the time from sending the PATCH to that answer. A final
`dig` confirms the answer. Every process is started and stopped by its PID; every loop is
bounded. Output: one JSON object per size on stdout, progress on stderr."""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_helper import Client  # noqa: E402  (a UDP DNS client; read-only use)

HUB, MEMBER, CONTROL = "127.0.78.1:6443", "127.0.78.2:6443", "127.0.78.1:8078"
DNS_ADDR, DNS_PORT, ADMIN = "127.0.78.10", 5378, "127.0.78.10:9378"
ZONE = "kscale.example"
PER_NS = 100  # profiles per namespace (--per-namespace)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def ns_of(i):
    return f"team-{i // PER_NS}"


def ip_of(i, gen=0):
    # 10.<gen>.<hi>.<lo>: unique per profile, per generation of the changed Service.
    return f"10.{gen}.{(i >> 8) & 255}.{i & 255}" if i < 65536 else f"11.{gen}.{(i >> 8) & 255}.{i & 255}"


def write_seeds(d, n):
    hub = open(os.path.join(d, "hub.jsonl"), "w")
    mem = open(os.path.join(d, "member-1.jsonl"), "w")
    g = "networking.fleet.azure.com"
    for i in range(n):
        ns, p, s = ns_of(i), f"p{i}", f"svc{i}"
        hub.write(json.dumps({"apiVersion": f"{g}/v1beta1", "kind": "TrafficManagerProfile",
                              "metadata": {"name": p, "namespace": ns},
                              "spec": {"resourceGroup": "rg", "monitorConfig": {"port": 80}}}) + "\n")
        hub.write(json.dumps({"apiVersion": f"{g}/v1beta1", "kind": "TrafficManagerBackend",
                              "metadata": {"name": f"b{i}", "namespace": ns},
                              "spec": {"profile": {"name": p}, "backend": {"name": s}, "weight": 100}}) + "\n")
        mem.write(json.dumps({"apiVersion": "v1", "kind": "Service",
                              "metadata": {"name": s, "namespace": ns},
                              "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]},
                              "status": {"loadBalancer": {"ingress": [{"ip": ip_of(i)}]}}}) + "\n")
        mem.write(json.dumps({"apiVersion": f"{g}/v1alpha1", "kind": "ServiceExport",
                              "metadata": {"name": s, "namespace": ns, "annotations": {
                                  f"{g}/weight": "50", "fleetdns.io/always-serve": "true"}}}) + "\n")
    hub.close()
    mem.close()


def config(d, status):
    return f"""apiVersion: fleetdns.io/v1alpha1
kind: FleetDNSConfig
spec:
  zone: {ZONE}
  nameServers: [{{name: ns1.{ZONE}, addresses: [{DNS_ADDR}]}}]
  listen: ["{DNS_ADDR}:{DNS_PORT}"]
  admin: {{listen: "{ADMIN}"}}
  kubernetes:
    kubeconfig: {d}/kubeconfig
    hub: {{context: hub}}
    members:
      - {{name: member-1, context: member-1}}
    status: {{enabled: {"true" if status else "false"}}}
"""


def owner(i):
    return f"{ns_of(i)}-p{i}.{ZONE}"


def answers(c, name):
    try:
        r = c.query(name, "A")
    except OSError:
        return None
    return sorted(a[1] for a in r["answers"] if a[0] == "A")


def rss_mib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def stop(p):
    if p and p.poll() is None:
        os.kill(p.pid, signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(10)


def patch_ip(i, ip):
    ns, s = ns_of(i), f"svc{i}"
    url = f"http://{MEMBER}/api/v1/namespaces/{ns}/services/{s}/status"
    body = json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}).encode()
    req = urllib.request.Request(url, data=body, method="PATCH",
                                 headers={"Content-Type": "application/merge-patch+json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()


def run_size(a, n):
    d = tempfile.mkdtemp(prefix=f"kscale-{n}-")
    res = {"profiles": n, "objects": 4 * n, "per_namespace": PER_NS, "status_writes": a.status}
    kf = fd = None
    try:
        t = time.monotonic()
        write_seeds(d, n)
        with open(os.path.join(d, "fleetdns.yaml"), "w") as f:
            f.write(config(d, a.status))
        kf_log = open(os.path.join(d, "kubefake.log"), "w")
        t = time.monotonic()
        kf = subprocess.Popen([os.path.join(a.bin_dir, "kubefake"), "--kubeconfig", f"{d}/kubeconfig",
                               "--control", CONTROL, f"hub={HUB}", f"member-1={MEMBER}",
                               "--seed", f"hub={d}/hub.jsonl", "--seed", f"member-1={d}/member-1.jsonl"],
                              stdout=kf_log, stderr=subprocess.STDOUT)
        for _ in range(int(a.timeout * 10)):
            if kf.poll() is not None:
                raise SystemExit(f"kubefake exited with {kf.returncode}; see {d}/kubefake.log")
            # The control line comes last: after seeding and the kubeconfig.
            with open(os.path.join(d, "kubefake.log")) as f:
                if "kubefake: control" in f.read():
                    break
            time.sleep(0.1)
        else:
            raise SystemExit("kubefake did not start")
        res["kubefake_seed_s"] = round(time.monotonic() - t, 2)
        res["kubefake_rss_mib"] = rss_mib(kf.pid)
        log(f"[{n}] kubefake seeded in {res['kubefake_seed_s']} s, RSS {res['kubefake_rss_mib']} MiB")
        fd_log = open(os.path.join(d, "fleetdns.log"), "w")
        t = time.monotonic()
        env = dict(os.environ, FLEETDNS_LOG=a.log_filter)
        fd = subprocess.Popen([os.path.join(a.bin_dir, "fleetdns"), "serve", "--config", f"{d}/fleetdns.yaml"],
                              stdout=fd_log, stderr=subprocess.STDOUT, env=env)
        c = Client(DNS_ADDR, DNS_PORT, timeout=0.2)
        last = n - 1
        for _ in range(int(a.timeout * 20)):
            if fd.poll() is not None:
                raise SystemExit(f"fleetdns exited with {fd.returncode}; see {d}/fleetdns.log")
            if answers(c, owner(last)) == [ip_of(last)]:
                break
            time.sleep(0.05)
        else:
            raise SystemExit(f"no first answer within {a.timeout} s; see {d}/fleetdns.log")
        res["first_answer_s"] = round(time.monotonic() - t, 2)
        time.sleep(a.settle)
        res["fleetdns_rss_mib"] = rss_mib(fd.pid)
        res["fleetdns_peak_mib"] = rss_mib(fd.pid, "VmHWM")
        res["kubefake_peak_mib"] = rss_mib(kf.pid, "VmHWM")
        log(f"[{n}] first answer after {res['first_answer_s']} s, RSS {res['fleetdns_rss_mib']} MiB"
            f" (peak {res['fleetdns_peak_mib']} MiB)")
        c = Client(DNS_ADDR, DNS_PORT, timeout=0.05)
        lat = []
        for trial in range(a.trials):
            i = (trial * 7919) % n  # a different profile each trial
            new = ip_of(i, gen=trial + 1)
            t0 = time.monotonic()
            patch_ip(i, new)
            t_patch = time.monotonic() - t0
            seen = None
            while time.monotonic() - t0 < a.change_timeout:
                if answers(c, owner(i)) == [new]:
                    seen = time.monotonic() - t0
                    break
                time.sleep(0.001)
            if seen is None:
                raise SystemExit(f"change not answered within {a.change_timeout} s; see {d}/fleetdns.log")
            lat.append(round(seen * 1000, 1))
            log(f"[{n}] trial {trial}: PATCH took {t_patch * 1000:.1f} ms, new answer after {seen * 1000:.1f} ms")
            time.sleep(a.gap)
        dig = subprocess.run(["dig", f"@{DNS_ADDR}", "-p", str(DNS_PORT), owner(i), "A", "+short"],
                             capture_output=True, text=True, timeout=10).stdout.split()
        if dig != [new]:
            raise SystemExit(f"dig answered {dig}, expected {new}")
        lat_sorted = sorted(lat)
        res["change_to_answer_ms"] = lat
        res["median_ms"] = lat_sorted[len(lat) // 2]
        res["max_ms"] = lat_sorted[-1]
        res["fleetdns_rss_after_mib"] = rss_mib(fd.pid)
        return res
    finally:
        stop(fd)
        stop(kf)
        if a.keep:
            log(f"[{n}] kept {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--bin-dir", default="target/release")
    ap.add_argument("--status", action="store_true", help="let fleetdns write status back (off by default)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds for start-up and first answer")
    ap.add_argument("--change-timeout", type=float, default=60)
    ap.add_argument("--settle", type=float, default=3, help="seconds after the first answer before changes")
    ap.add_argument("--gap", type=float, default=1, help="seconds between trials")
    ap.add_argument("--log-filter", default="info,fleetdns_sources=debug",
                    help="FLEETDNS_LOG for fleetdns (debug of fleetdns_sources logs each composition's time)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, seeds)")
    ap.add_argument("--per-namespace", type=int, default=100,
                    help="profiles per namespace (an event recomposes its namespace)")
    a = ap.parse_args()
    # A SIGTERM (e.g. from `timeout`) still stops kubefake and fleetdns (the finally blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    global PER_NS
    PER_NS = max(1, a.per_namespace)
    for tool in ("dig",):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found")
    for size in a.sizes.split(","):
        print(json.dumps(run_size(a, int(size))), flush=True)


if __name__ == "__main__":
    main()
