# shellcheck shell=bash
# Shared by hack/*.sh: repository paths, pinned versions and the build cache.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../versions.env
set -a; . "$REPO_ROOT/versions.env"; set +a
STUDIO_CACHE="${STUDIO_CACHE:-$HOME/.cache/flink-sql-studio}"
VENV="$REPO_ROOT/.venv"
CLUSTER_DIR="${CLUSTER_DIR:-$REPO_ROOT/.cluster}"
log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
