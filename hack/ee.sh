#!/usr/bin/env bash
# Execution environment for AWX / ansible-navigator (execution-environment.yml, ansible-builder v3).
#
#   hack/ee.sh [create]   pack this checkout as a collection tarball and render the build context
#                         into $EE_CONTEXT (default .cache/ee/context): Containerfile + _build/
#   hack/ee.sh build      the same, then build the image $EE_TAG with podman or docker
#                         (default tag flinksql-studio-ee:<galaxy.yml version>)
#
# The collection tarball is built from the files git knows (tracked + untracked, not ignored), so
# local virtualenvs and caches never end up in the image.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
export PATH="$VENV/bin:$PATH"
mode=${1:-create}
EE_DIR="$REPO_ROOT/.cache/ee"
EE_CONTEXT="${EE_CONTEXT:-$EE_DIR/context}"
version=$(awk '$1=="version:"{print $2; exit}' galaxy.yml)
EE_TAG="${EE_TAG:-flinksql-studio-ee:$version}"

command -v ansible-builder >/dev/null || die "ansible-builder not found (make setup installs the pinned one)"
mkdir -p "$EE_DIR"
stage=$(mktemp -d "$EE_DIR/collection.XXXXXX")
trap 'rm -rf "$stage"' EXIT
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [[ -e $f ]] || continue            # deleted in the working tree
  mkdir -p "$stage/src/$(dirname "$f")" && cp -p "$f" "$stage/src/$f"
done
ansible-galaxy collection build "$stage/src" --output-path "$stage" --force >&2
tarball=$(ls "$stage"/flinksql-studio-*.tar.gz)
mv -f "$tarball" "$EE_DIR/flinksql-studio.tar.gz"
log "collection packed: $EE_DIR/flinksql-studio.tar.gz ($(basename "$tarball"))"

rm -rf "$EE_CONTEXT"
ansible-builder create -f execution-environment.yml -c "$EE_CONTEXT" --output-filename Containerfile >&2
log "build context: $EE_CONTEXT"

if [[ $mode == build ]]; then
  runtime=""
  for r in podman docker; do command -v "$r" >/dev/null && { runtime=$r; break; }; done
  [[ -n $runtime ]] || die "neither podman nor docker is installed; the context in $EE_CONTEXT can be built elsewhere with: <runtime> build --build-arg HELM_VERSION=$HELM_VERSION -f Containerfile -t $EE_TAG ."
  ( cd "$EE_CONTEXT" && "$runtime" build --build-arg "HELM_VERSION=$HELM_VERSION" -f Containerfile -t "$EE_TAG" . )
  log "image built: $EE_TAG"
elif [[ $mode != create ]]; then
  die "unknown mode '$mode' (create or build)"
fi
echo "$EE_CONTEXT"
