#!/usr/bin/env bash
# Fetches the Flink Kubernetes Operator CRDs from a real registry artifact:
#   Maven Central org.apache.flink:flink-kubernetes-operator-api:$FLINK_OPERATOR_VERSION
# which packs the Fabric8-generated CRDs as META-INF/fabric8/<plural>.flink.apache.org-v1.yml
# (apiextensions.k8s.io/v1; the -v1beta1.yml twins are for pre-1.16 clusters and are skipped).
# Extracts them to $STUDIO_CACHE/crds/<version>/ and prints that directory on stdout.
#
# If the artifact cannot be downloaded or lacks the CRDs, falls back to the copy of the operator's
# release tag in ../shared/reference/flink-kubernetes-operator-<version>/ and says so loudly
# (the directory then carries a SOURCE file starting with "FALLBACK").
#
# Env: MAVEN_REPO_URL (default https://repo.maven.apache.org/maven2; set it to your mirror),
#      CRD_REFERENCE_DIR (default $REPO_ROOT/../shared/reference/flink-kubernetes-operator-<ver>),
#      CRD_REFRESH=1 to fetch again although the cache directory exists.
# Usage: hack/fetch-crds.sh [operator-version]   (default: FLINK_OPERATOR_VERSION)
set -euo pipefail
# shellcheck source=hack/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

V=${1:-$FLINK_OPERATOR_VERSION}   # an argument overrides the pin (e.g. to inspect another release)
REPO_URL="${MAVEN_REPO_URL:-https://repo.maven.apache.org/maven2}"
REF_DIR="${CRD_REFERENCE_DIR:-$REPO_ROOT/../shared/reference/flink-kubernetes-operator-$V}"
OUT="$STUDIO_CACHE/crds/$V"
ARTIFACT="org/apache/flink/flink-kubernetes-operator-api/$V/flink-kubernetes-operator-api-$V.jar"

# A cached copy from the jar is final; a cached FALLBACK is retried against Maven every time.
if [[ -f $OUT/SOURCE && ${CRD_REFRESH:-0} != 1 ]] && ! grep -q '^FALLBACK' "$OUT/SOURCE" \
   && compgen -G "$OUT/*.yml" >/dev/null; then
  echo "$OUT"; exit 0
fi

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
from_jar() {
  local url="$REPO_URL/$ARTIFACT" sha
  log "downloading $url"
  curl -fsSL --retry 2 -o "$tmp/api.jar" "$url" || { log "download failed: $url"; return 1; }
  if sha=$(curl -fsSL "$url.sha1" 2>/dev/null); then
    sha=${sha%% *}
    [[ $(sha1sum "$tmp/api.jar" | cut -d' ' -f1) == "$sha" ]] || { log "sha1 mismatch for $url"; return 1; }
  else
    log "no .sha1 next to $url; checksum not verified"
  fi
  mkdir -p "$tmp/x"
  (cd "$tmp/x" && unzip -qo "$tmp/api.jar" 'META-INF/fabric8/*-v1.yml') 2>/dev/null \
    || { log "the jar has no META-INF/fabric8/*-v1.yml"; return 1; }
  local f n=0
  for f in "$tmp"/x/META-INF/fabric8/*.flink.apache.org-v1.yml; do
    grep -q '^kind: CustomResourceDefinition' "$f" || { log "$(basename "$f") is not a CRD"; return 1; }
    n=$((n + 1))
  done
  [[ -f $tmp/x/META-INF/fabric8/flinkdeployments.flink.apache.org-v1.yml ]] \
    || { log "the jar lacks the FlinkDeployment CRD"; return 1; }
  rm -rf "$OUT.new"; mkdir -p "$OUT.new"
  cp "$tmp"/x/META-INF/fabric8/*.flink.apache.org-v1.yml "$OUT.new/"
  printf 'maven %s sha1=%s\n' "$url" "$(sha1sum "$tmp/api.jar" | cut -d' ' -f1)" > "$OUT.new/SOURCE"
  log "the jar contains $n CRDs: $(cd "$OUT.new" && ls -- *.yml | tr '\n' ' ')"
}
from_reference() {
  compgen -G "$REF_DIR/*.flink.apache.org-v1.yml" >/dev/null || return 1
  rm -rf "$OUT.new"; mkdir -p "$OUT.new"
  cp "$REF_DIR"/*.flink.apache.org-v1.yml "$OUT.new/"
  printf 'FALLBACK reference copy %s (Maven artifact %s unavailable from %s)\n' \
    "$(cd "$REF_DIR" && pwd)" "$ARTIFACT" "$REPO_URL" > "$OUT.new/SOURCE"
}

mkdir -p "$(dirname "$OUT")"
if ! from_jar; then
  log "################################################################################"
  log "WARNING: flink-kubernetes-operator-api:$V is not available from $REPO_URL"
  log "WARNING: FALLING BACK to the reference copy in $REF_DIR"
  log "WARNING: (only the CRDs present there; set MAVEN_REPO_URL to a full Maven Central mirror)"
  log "################################################################################"
  if ! from_reference; then
    # A checkout without ../shared beside it can still use the copy cached by an earlier run.
    compgen -G "$OUT/*.yml" >/dev/null \
      || die "no CRDs: neither the Maven artifact nor $REF_DIR/*.flink.apache.org-v1.yml nor a cached copy in $OUT"
    log "WARNING: $REF_DIR is missing too; using the CRDs cached in $OUT ($(head -1 "$OUT/SOURCE" 2>/dev/null))"
    echo "$OUT"; exit 0
  fi
fi
rm -rf "$OUT"; mv "$OUT.new" "$OUT"
log "CRDs in $OUT: $(cd "$OUT" && ls -- *.yml | tr '\n' ' ')"
echo "$OUT"
