#!/usr/bin/env bash
# Creates the scanner venvs used by the governance proofs (tests/integration/test_governance_*.py):
#   .venv-scan/checkov/  checkov (manifest security scan)
#   .venv-scan/nca/      network-config-analyzer (NetworkPolicy connectivity analysis)
# They live apart from .venv and from each other because their pins conflict:
#   checkov 3.3.30 depends on networkx<2.7; network-config-analyzer 2.1.0 on networkx==3.2.1.
# Idempotent: a venv is rebuilt only when its pin below changes. Prints nothing on success but
# the final "ready" line.
#
# Usage: hack/scan-venv.sh [checkov|nca ...]   (default: both)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SCAN_ROOT="$REPO_ROOT/.venv-scan"
declare -A PINS=(
  [checkov]="checkov==3.3.30"
  [nca]="network-config-analyzer==2.1.0"
)
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3

mkdir -p "$SCAN_ROOT"
# Keep the venvs out of git without touching the repository's .gitignore.
[[ -f "$SCAN_ROOT/.gitignore" ]] || printf '*\n' > "$SCAN_ROOT/.gitignore"

tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=(checkov nca)
for tool in "${tools[@]}"; do
  pin="${PINS[$tool]:-}"
  [[ -n $pin ]] || die "unknown scanner '$tool' (known: ${!PINS[*]})"
  dir="$SCAN_ROOT/$tool"
  stamp="$dir/.pin"
  if [[ -x "$dir/bin/python" && "$(cat "$stamp" 2>/dev/null)" == "$pin" ]]; then
    continue
  fi
  log "installing $pin into $dir"
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir"
  "$dir/bin/pip" install -q --disable-pip-version-check "$pin"
  echo "$pin" > "$stamp"
done
log "ready: ${tools[*]} in $SCAN_ROOT"
