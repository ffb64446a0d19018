#!/usr/bin/env bash
# `make bench`: every benchmark under benchmarks/, one after another (they share the 2 cores badly).
# Each prints its figure last as `BENCH <name> value=<x> target<=<y>`; this prints those lines again
# at the end. Benchmarks start their own local control plane / real gateway as they need.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
export PATH="$VENV/bin:$REPO_ROOT/.cache/bin:$PATH" ANSIBLE_CONFIG="$REPO_ROOT/ansible.cfg" PYTHONPATH="$REPO_ROOT/.cache/collections:$REPO_ROOT"
bash hack/build-tools.sh
results=() status=0
for bench in benchmarks/*.py; do
  log "=== $bench"
  out=$("$VENV/bin/python" "$bench" 2>&1 | tee /dev/stderr) || status=1
  results+=("$(grep '^BENCH ' <<<"$out" | tail -1)")
done
printf '%s\n' "${results[@]}"
exit $status
