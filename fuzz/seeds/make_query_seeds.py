#!/usr/bin/env python3
"""Writes the seed corpus of the `query` fuzz target: DNS queries for the names of
examples/fleet.yaml, each query type the server treats specially, with and without
EDNS, plus a few malformed messages. Run from the repo root:
    python3 fuzz/seeds/make_query_seeds.py fuzz/corpus/query
"""
import hashlib
import os
import struct
import sys

ZONE = "fleet.example.com"
NAMES = [
    ZONE,
    "ns1." + ZONE,
    "kuard-demo-kuard-atm-demo." + ZONE,
    "KuArD-dEmO-kuard-atm-demo." + ZONE,
    "team-a-web." + ZONE,
    "team-b-api." + ZONE,
    "_health.kuard-demo-kuard-atm-demo." + ZONE,
    "member-1._cluster.kuard-demo-kuard-atm-demo." + ZONE,
    "nope." + ZONE,
    "example.org",
    "",
]
TYPES = [1, 2, 5, 6, 16, 28, 33, 252, 251, 255, 65]


def name(n):
    out = b""
    for label in filter(None, n.split(".")):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(qid, qname, qtype, flags=0x0100, qclass=1, edns=None, extra=b""):
    ar = 1 if edns is not None else 0
    msg = struct.pack(">HHHHHH", qid, flags, 1, 0, 0, ar)
    msg += name(qname) + struct.pack(">HH", qtype, qclass)
    if edns is not None:
        payload, version, do, options = edns
        msg += b"\0" + struct.pack(">HHBBHH", 41, payload, 0, version, 0x8000 if do else 0, len(options)) + options
    return msg + extra


def main(out):
    os.makedirs(out, exist_ok=True)
    seeds = []
    qid = 1
    for n in NAMES:
        for t in TYPES:
            qid += 1
            seeds.append(query(qid, n, t))
            seeds.append(query(qid, n, t, edns=(1232, 0, True, b"")))
    n = NAMES[2]
    seeds += [
        query(7, n, 1, edns=(4096, 1, False, b"")),  # BADVERS
        query(8, n, 1, edns=(512, 0, False, struct.pack(">HH", 10, 8) + b"\1" * 8)),  # cookie
        query(9, n, 1, edns=(100, 0, False, b"")),
        query(10, n, 1, qclass=3),  # CHAOS
        query(11, n, 1, flags=0x2800),  # opcode UPDATE
        query(12, n, 1, flags=0x8100),  # a response
        query(13, n, 1)[:20],  # cut in the name
        query(14, n, 1)[:11],  # runt
        query(15, n, 1) + b"\0",  # trailing byte
        struct.pack(">HHHHHH", 16, 0x0100, 2, 0, 0, 0) + name(n) + b"\0\1\0\1" + name(n) + b"\0\x1c\0\1",
        struct.pack(">HHHHHH", 17, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\0\1\0\1",  # pointer loop
        struct.pack(">HHHHHH", 18, 0x0100, 0, 0, 0, 0),  # no question
    ]
    for s in seeds:
        h = hashlib.sha1(s).hexdigest()
        with open(os.path.join(out, h), "wb") as f:
            f.write(s)
    print(f"{len(seeds)} seeds in {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus/query")
