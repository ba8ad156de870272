#!/usr/bin/env python3
"""Sums a heaptrack flame-graph file by the deepest three fleetdns frames of each stack, so the
heap reads as "which of our functions holds it". Written by scripts/heap_profile.sh.

  python3 scripts/heap_agg.py /tmp/x-leak.fg [ROWS]
"""
import collections
import re
import sys


def main():
    rows = collections.Counter()
    with open(sys.argv[1]) as f:
        for line in f:
            stack, _, n = line.rstrip().rpartition(" ")
            frames = stack.split(";")
            ours = [x for x in frames if "fleetdns" in x]
            if ours:
                key = " <- ".join(re.sub(r"::h[0-9a-f]{16}", "", x)[:70] for x in ours[-3:][::-1])
            else:
                key = frames[-1][:100]
            rows[key] += int(n)
    print(f"total MiB {sum(rows.values()) / 2**20:.2f}")
    for key, n in rows.most_common(int(sys.argv[2]) if len(sys.argv) > 2 else 30):
        print(f"{n / 2**20:8.2f} {key}")


if __name__ == "__main__":
    main()
