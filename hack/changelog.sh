#!/usr/bin/env bash
# Changelog with antsibull-changelog (config: changelogs/config.yaml).
#
#   hack/changelog.sh [lint]           check every fragment in changelogs/fragments/ and changelog.yaml
#   hack/changelog.sh preview [ver]    print the release notes the next release would get (no file changes)
#   hack/changelog.sh release [ver]    fold the fragments into changelogs/changelog.yaml and CHANGELOG.md
#                                      (ver defaults to galaxy.yml's version); commit the result
#
# A fragment is a YAML file changelogs/fragments/<issue>-<topic>.yml with sections such as
# minor_changes, bugfixes, breaking_changes (see changelogs/config.yaml), one list item per change.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
export PATH="$VENV/bin:$PATH"   # antsibull-changelog calls ansible-doc to list new plugins
command -v antsibull-changelog >/dev/null || die "antsibull-changelog not found (make setup installs the pinned one)"
mode=${1:-lint}
version=${2:-$(awk '$1=="version:"{print $2; exit}' galaxy.yml)}

case $mode in
  lint)
    antsibull-changelog lint
    antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
    log "fragments and changelogs/changelog.yaml are valid ($(find changelogs/fragments -name '*.y*ml' | wc -l) fragments)"
    ;;
  preview)
    work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
    dest="$work/ansible_collections/flinksql/studio"; mkdir -p "$dest"
    git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
      [[ -e $f ]] && mkdir -p "$dest/$(dirname "$f")" && cp -p "$f" "$dest/$f"
    done
    ( cd "$dest" && antsibull-changelog release --version "$version" >&2 && cat CHANGELOG.md )
    ;;
  release)
    antsibull-changelog release --version "$version"
    log "released $version: review and commit changelogs/ and CHANGELOG.md"
    ;;
  *) die "unknown mode '$mode' (lint, preview, release)" ;;
esac
