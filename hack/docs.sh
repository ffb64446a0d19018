#!/usr/bin/env bash
# Builds the collection's documentation (modules, filters, roles from meta/argument_specs.yml) with
# antsibull-docs into $DOCS_DIR (default .cache/docs) as reStructuredText, the format the Ansible
# docsite and `antsibull-docs sphinx-init` projects consume. Also regenerates nothing in the tree:
# docs/variables.md has its own generator (hack/gen-variables-doc.py).
#
#   hack/docs.sh            build; every plugin or role whose documentation does not parse is listed
#                           and makes the exit code 1 (antsibull-docs would otherwise write an
#                           "documentation was malformed" page and carry on)
#   DOCS_LENIENT=1 hack/docs.sh   build and list problems, but exit 0
#
# kubernetes.core (our modules' doc fragment kubernetes.core.k8s_auth_options) is found in the
# pinned `ansible` package in .venv.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
export PATH="$VENV/bin:$PATH"
command -v antsibull-docs >/dev/null || die "antsibull-docs not found (make setup installs the pinned one)"
[[ -e .cache/collections/ansible_collections/flinksql/studio ]] || die "collection not linked: run make setup"
site_packages=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
export ANSIBLE_COLLECTIONS_PATH="$REPO_ROOT/.cache/collections:$site_packages"
DOCS_DIR="${DOCS_DIR:-$REPO_ROOT/.cache/docs}"
rm -rf "$DOCS_DIR"; mkdir -p "$DOCS_DIR"
log_file="$DOCS_DIR/antsibull-docs.log"
antsibull-docs collection --use-current --dest-dir "$DOCS_DIR" flinksql.studio >"$log_file" 2>&1 \
  || { cat "$log_file" >&2; die "antsibull-docs failed"; }
# antsibull-docs reports each unparsable plugin/role as a non-fatal ERROR line.
problems=$(sed -n 's/.*plugin_name=\([^:]*\):plugin_type=\([^|]*\)|.*/\2 \1/p' "$log_file" | sort -u)
pages=$(find "$DOCS_DIR/collections/flinksql/studio" -name '*.rst' | wc -l)
log "built $pages pages in $DOCS_DIR/collections/flinksql/studio (log: $log_file)"
if [[ -n $problems ]]; then
  log "documentation that does not parse (antsibull-docs wrote an error page instead):"
  grep 'nonfatal_errors' "$log_file" | sed 's/^ERROR:antsibull:func=create_plugin_rst:mod=[^:]*:/  /' >&2
  [[ ${DOCS_LENIENT:-0} == 1 ]] || exit 1
fi
echo "$DOCS_DIR"
