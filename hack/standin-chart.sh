#!/usr/bin/env bash
# Assembles the stand-in operator chart (tests/charts/flink-kubernetes-operator-standin, see its
# Chart.yaml for what it does and does not prove) with the real CRDs from hack/fetch-crds.sh into
# .cache/charts/flink-kubernetes-operator and prints that directory.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
crds=$(bash "$REPO_ROOT/hack/fetch-crds.sh" "${1:-$FLINK_OPERATOR_VERSION}")
out="$REPO_ROOT/.cache/charts/flink-kubernetes-operator"
rm -rf "$out.new" && mkdir -p "$out.new/crds"
cp -r "$REPO_ROOT/tests/charts/flink-kubernetes-operator-standin/." "$out.new/"
cp "$crds"/*.yml "$out.new/crds/"
rm -rf "$out" && mv "$out.new" "$out"
echo "$out"
