#!/usr/bin/env bash
# A fake client-go exec credential plugin (stands in for kubelogin in tests).
#
# Mints a token that kubefake's TokenAuthority accepts until it expires:
#   kfa.<expiry unix seconds>.<nonce>.<sha256 hex of "<secret>:<expiry>:<nonce>">
# and prints an ExecCredential with status.token and status.expirationTimestamp.
#
# Environment (set through the kubeconfig's exec.env):
#   KUBEFAKE_TOKEN_SECRET    the authority's secret (required)
#   KUBEFAKE_TOKEN_LIFETIME  seconds each token lives (default 3)
#   KUBEFAKE_TOKEN_LOG       a file that gets one line per token minted (optional)
set -euo pipefail
secret="${KUBEFAKE_TOKEN_SECRET:?KUBEFAKE_TOKEN_SECRET is not set}"
lifetime="${KUBEFAKE_TOKEN_LIFETIME:-3}"
now=$(date -u +%s)
expiry=$((now + lifetime))
nonce="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
sig="$(printf '%s:%s:%s' "$secret" "$expiry" "$nonce" | sha256sum | cut -d' ' -f1)"
if [[ -n "${KUBEFAKE_TOKEN_LOG:-}" ]]; then
    echo "minted expiry=$expiry" >> "$KUBEFAKE_TOKEN_LOG"
fi
stamp="$(date -u -d "@$expiry" +%Y-%m-%dT%H:%M:%SZ)"
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"kfa.%s.%s.%s","expirationTimestamp":"%s"}}\n' \
    "$expiry" "$nonce" "$sig" "$stamp"
