#!/usr/bin/env bash
# yamllint, ansible-lint (production profile) and ansible-test sanity on the collection.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
export PATH="$VENV/bin:$PATH" ANSIBLE_CONFIG="$REPO_ROOT/ansible.cfg"
yamllint -s .
ansible-lint --profile production
bash hack/sanity.sh
