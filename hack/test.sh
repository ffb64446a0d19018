#!/usr/bin/env bash
# The whole suite (what CI runs through `make test`). Every stage runs; the exit code is non-zero
# if any failed. Stages: lint, unit, local control plane + integration (real API server, real
# gateway), molecule local scenario (converge, idempotence, verify, check mode).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
export PATH="$VENV/bin:$REPO_ROOT/.cache/bin:$PATH" ANSIBLE_CONFIG="$REPO_ROOT/ansible.cfg"
failed=()
stage() {
  local name=$1; shift
  log "=== $name"
  local start=$SECONDS
  if "$@"; then log "=== $name passed in $((SECONDS - start))s"; else log "=== $name FAILED"; failed+=("$name"); fi
}
stage tools bash hack/build-tools.sh
stage lint bash hack/lint.sh
# One pytest run for unit, cluster and integration tests: one summary line for CI to read.
stage pytest "$VENV/bin/pytest" tests -p no:cacheprovider ${PYTEST_ARGS:-}
stage molecule-local bash -c 'cd "$0" && molecule test -s local' "$REPO_ROOT"
stage molecule-kind-syntax bash -c 'cd "$0" && molecule syntax -s kind' "$REPO_ROOT"
if [ ${#failed[@]} -gt 0 ]; then log "FAILED stages: ${failed[*]}"; exit 1; fi
log "all stages passed"
