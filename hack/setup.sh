#!/usr/bin/env bash
# Creates .venv with the pinned Python tools and makes this checkout importable as the
# collection flinksql.studio (ansible_collections/flinksql/studio -> the repository root).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.requirements.sha"
want="$(cat "$REPO_ROOT/requirements.txt" "$REPO_ROOT/test-requirements.txt" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing pinned Python packages"
  "$VENV/bin/pip" install -q -r "$REPO_ROOT/test-requirements.txt"
  echo "$want" > "$stamp"
fi
link_dir="$REPO_ROOT/.cache/collections/ansible_collections/flinksql"
mkdir -p "$link_dir"
ln -sfn "$REPO_ROOT" "$link_dir/studio"
log "ready: $VENV, collection flinksql.studio at $link_dir/studio"
