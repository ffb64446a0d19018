#!/usr/bin/env bash
# Builds a FLINK_HOME for $FLINK_VERSION at $STUDIO_CACHE/flink-$FLINK_VERSION from real artifacts:
#   - PyPI apache-flink            -> bin/ (jobmanager.sh, taskmanager.sh, sql-gateway.sh, config.sh...), conf/
#   - PyPI apache-flink-libraries  -> lib/ (flink-dist, table planner/runtime, log4j), opt/, plugins/
#   - Maven Central org.apache.flink:flink-sql-gateway:$FLINK_VERSION -> opt/ (the wheels lack it;
#     bin/config.sh findSqlGatewayJar looks for opt/flink-sql-gateway*.jar)
# Skips the build when the home is complete. Prints the FLINK_HOME path on stdout.
# Overrides for mirrors: PIP_INDEX_URL (pip's own), MAVEN_REPO_URL.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${FLINK_VERSION:?FLINK_VERSION missing from versions.env}"
MAVEN_REPO_URL="${MAVEN_REPO_URL:-https://repo.maven.apache.org/maven2}"
FLINK_HOME_DIR="$STUDIO_CACHE/flink-$FLINK_VERSION"
DOWNLOADS="$STUDIO_CACHE/downloads/flink-$FLINK_VERSION"
MARKER="$FLINK_HOME_DIR/.flink-home-complete"

if [[ -f "$MARKER" ]]; then
  echo "$FLINK_HOME_DIR"
  exit 0
fi

command -v java >/dev/null || die "java not found: Flink $FLINK_VERSION needs Java 11/17/21 on PATH"
PYTHON="$VENV/bin/python"
[[ -x "$PYTHON" ]] || PYTHON="$(command -v python3)" || die "python3 not found"

mkdir -p "$DOWNLOADS"

# 1. Wheels (apache-flink-libraries is a py2.py3-none-any wheel of ~300 MB; apache-flink a cp3xx wheel).
if ! ls "$DOWNLOADS"/apache_flink-"$FLINK_VERSION"-*.whl >/dev/null 2>&1 \
   || ! ls "$DOWNLOADS"/apache_flink_libraries-"$FLINK_VERSION"-*.whl >/dev/null 2>&1; then
  log "pip download apache-flink==$FLINK_VERSION apache-flink-libraries==$FLINK_VERSION"
  "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: -d "$DOWNLOADS" \
    "apache-flink==$FLINK_VERSION" "apache-flink-libraries==$FLINK_VERSION" \
    || die "pip download of the Flink $FLINK_VERSION wheels failed"
fi

# 2. The SQL Gateway jar from Maven Central, checked against the repository's .sha1.
GW_JAR="flink-sql-gateway-$FLINK_VERSION.jar"
GW_URL="$MAVEN_REPO_URL/org/apache/flink/flink-sql-gateway/$FLINK_VERSION/$GW_JAR"
if [[ ! -s "$DOWNLOADS/$GW_JAR" ]]; then
  log "fetching $GW_URL"
  curl -fsSL --retry 3 -o "$DOWNLOADS/$GW_JAR.part" "$GW_URL" \
    || die "could not fetch the SQL Gateway jar: curl $GW_URL failed (exit $?)"
  want="$(curl -fsSL --retry 3 "$GW_URL.sha1" | awk '{print $1}')" \
    || die "could not fetch $GW_URL.sha1"
  have="$(sha1sum "$DOWNLOADS/$GW_JAR.part" | awk '{print $1}')"
  [[ "$want" == "$have" ]] || die "$GW_JAR: sha1 $have does not match the repository's $want"
  mv "$DOWNLOADS/$GW_JAR.part" "$DOWNLOADS/$GW_JAR"
fi

# 3. Assemble in a scratch dir next to the target, then move it into place.
tmp="$(mktemp -d "$STUDIO_CACHE/.flink-home.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
for whl in "$DOWNLOADS"/apache_flink_libraries-"$FLINK_VERSION"-*.whl \
           "$DOWNLOADS"/apache_flink-"$FLINK_VERSION"-*.whl; do
  "$PYTHON" - "$whl" "$tmp" <<'EOF'
import sys, zipfile
whl, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    for name in z.namelist():
        if name.startswith("pyflink/") and not name.endswith("/"):
            z.extract(name, dest)
EOF
done
home="$tmp/pyflink"
for d in bin lib opt conf; do
  [[ -d "$home/$d" ]] || die "assembled FLINK_HOME lacks $d/: the wheels' layout changed"
done
cp "$DOWNLOADS/$GW_JAR" "$home/opt/$GW_JAR"
chmod +x "$home"/bin/*.sh "$home/bin/flink"
mkdir -p "$home/log"

# 4. Verify: the scripts exist, flink-dist and the gateway jar match, the CLI reports the version.
for s in config.sh jobmanager.sh taskmanager.sh sql-gateway.sh flink-console.sh; do
  [[ -x "$home/bin/$s" ]] || die "bin/$s missing from the assembled FLINK_HOME"
done
[[ -f "$home/lib/flink-dist-$FLINK_VERSION.jar" ]] || die "lib/flink-dist-$FLINK_VERSION.jar missing"
reported="$(FLINK_CONF_DIR="$home/conf" FLINK_LOG_DIR="$tmp" "$home/bin/flink" --version 2>/dev/null \
            | sed -n 's/^Version: \([^,]*\),.*/\1/p')"
[[ "$reported" == "$FLINK_VERSION" ]] \
  || die "bin/flink --version reports '${reported:-nothing}', expected $FLINK_VERSION"

rm -rf "$FLINK_HOME_DIR"
mv "$home" "$FLINK_HOME_DIR"
printf 'flink=%s\ngateway_jar=%s\nbuilt=%s\n' "$FLINK_VERSION" "$GW_URL" "$(date -u +%FT%TZ)" > "$MARKER"
log "FLINK_HOME ready: $FLINK_HOME_DIR (Flink $reported, gateway jar from $MAVEN_REPO_URL)"
echo "$FLINK_HOME_DIR"
