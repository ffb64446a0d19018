#!/usr/bin/env bash
# The whole suite (what CI runs through `make test`). Every stage runs; the exit code is non-zero
# if any failed. Stages: lint, unit, local control plane + integration (real API server, real
# gateway), molecule local scenario (converge, idempotence, verify, check mode).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT" || exit 1
export PATH="$VENV/bin:$REPO_ROOT/.cache/bin:$PATH" ANSIBLE_CONFIG="$REPO_ROOT/ansible.cfg"
failed=()
# Runs a command from the repository root whatever the stage before it did to the directory.
in_repo() { (cd "$REPO_ROOT" && "$@"); }
# Each stage's output also goes to $LOG_DIR/<stage>.log; CI shows only the tail of the whole run,
# so the run ends with the failure lines of every failed stage (failure_digest).
LOG_DIR="$REPO_ROOT/.cache/test-logs"
rm -rf "$LOG_DIR"; mkdir -p "$LOG_DIR"
stage() {
  local name=$1; shift
  log "=== $name"
  local start=$SECONDS
  if "$@" 2>&1 | tee "$LOG_DIR/$name.log"; then log "=== $name passed in $((SECONDS - start))s"
  else log "=== $name FAILED after $((SECONDS - start))s"; failed+=("$name"); fi
}
# failure_digest <stage>: the few lines of a failed stage's log that say what failed (CI shows only
# the last couple of dozen lines): each Ansible fatal result after the task it came from, pytest's
# FAILED/ERROR summary lines, molecule's and ansible-test's errors, linters' file:line:col lines;
# colour codes removed, long lines cut.
failure_digest() {
  log "--- why $1 failed (whole log: $LOG_DIR/$1.log)"
  sed 's/\x1b\[[0-9;]*m//g' "$LOG_DIR/$1.log" | awk '
    /^TASK \[/ { task = $0; next }
    /^(fatal|failed): / { print task; print; after_fatal = 1; next }
    /^    msg: / && after_fatal { print; after_fatal = 0; next }
    /^[^ \t]/ { after_fatal = 0 }
    /^\[ERROR\]: / || /^(FAILED|ERROR|FATAL|CRITICAL)[: ]/ || /^\[[a-z.-]+\] .*FAILED/ || /^[^ ]+:[0-9]+:[0-9]+: / { print }' \
    | cut -c1-900 | tail -n 12
}
stage tools bash hack/build-tools.sh
stage lint bash hack/lint.sh
# One pytest run for unit, cluster and integration tests: one summary line for CI to read.
# PYTEST_ARGS: extra pytest arguments, split on whitespace (e.g. PYTEST_ARGS="-m 'not slow' -x").
read -r -a pytest_args <<< "${PYTEST_ARGS:-}"
# Includes the day-2, teardown and fault tests (tests/integration/test_day2.py, test_teardown.py,
# ~15 min on their private control plane; `make test-day2` runs only them).
stage pytest "$VENV/bin/pytest" tests -p no:cacheprovider "${pytest_args[@]}"
stage molecule-local in_repo molecule test -s local
stage molecule-kind-syntax in_repo molecule syntax -s kind
if [ ${#failed[@]} -gt 0 ]; then
  for name in "${failed[@]}"; do failure_digest "$name"; done
  log "FAILED stages: ${failed[*]}"; exit 1
fi
log "all stages passed"
