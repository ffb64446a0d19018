#!/usr/bin/env bash
# yamllint, ansible-lint (production profile) and ansible-test sanity on the collection. Each runs
# even when one before it failed, so one run shows every finding; the exit code is non-zero if any
# failed. Configs: .yamllint, .ansible-lint, hack/sanity.sh (+ tests/sanity/ignore-2.19.txt).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT" || exit 1
export PATH="$VENV/bin:$PATH" ANSIBLE_CONFIG="$REPO_ROOT/ansible.cfg"
failed=()
check() {
  local name=$1; shift
  local start=$SECONDS
  if "$@"; then log "$name passed in $((SECONDS - start))s"; else log "$name FAILED in $((SECONDS - start))s"; failed+=("$name"); fi
}
check yamllint yamllint -s .
check ansible-lint ansible-lint --profile production
check sanity bash hack/sanity.sh
if [ ${#failed[@]} -gt 0 ]; then log "FAILED: ${failed[*]}"; exit 1; fi
