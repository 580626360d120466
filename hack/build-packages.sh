#!/usr/bin/env bash
# Build every package into OUT_DIR (make package):
#   OUT_DIR/image.tar                        the runtime image (hack/build-image.sh)
#   OUT_DIR/function-platform-<v>.xpkg       Function: package/crossplane.yaml, the input
#                                            CRD, the image embedded as its runtime
#   OUT_DIR/platform-<capability>-<v>.xpkg   a Configuration per capability: its metadata
#                                            (package/configurations/), its kinds' XRDs and
#                                            Compositions and their examples' XRs
#   OUT_DIR/platform-catalogue-<v>.xpkg      the umbrella Configuration (metadata only)
# What goes where is generate/stage.py's. REGISTRY and VERSION (make variables; defaults
# from pyproject.toml) are what the packages are built for: <v> is VERSION, the tag to push
# with, and the committed generated files must name the packages under REGISTRY at VERSION
# (`make generate REGISTRY=... VERSION=...`), which this checks before building.
set -euo pipefail

OUT=${1:?usage: build-packages.sh OUT_DIR}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CROSSPLANE=${CROSSPLANE:-$ROOT/.tools/bin/crossplane}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
REGISTRY=${REGISTRY:-$(sed -n 's/^registry = "\(.*\)"$/\1/p' "$ROOT/pyproject.toml")}
VERSION=${VERSION:-v$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/pyproject.toml")}

if ! (cd "$ROOT" && "$PYTHON" -m generate --check --registry "$REGISTRY" --version "$VERSION" >&2); then
  echo "package: the generated files are not for REGISTRY=$REGISTRY VERSION=$VERSION;" \
    "run make generate REGISTRY=$REGISTRY VERSION=$VERSION" >&2
  exit 1
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
"$ROOT/hack/build-image.sh" "$OUT"

stage=$OUT/stage
built=$(cd "$ROOT" && "$PYTHON" -m generate.stage "$stage")
export CROSSPLANE_XPKG_CACHE=${CROSSPLANE_XPKG_CACHE:-$OUT/xpkg-cache}
rm -f "$OUT"/*.xpkg
while read -r kind repo; do
  runtime=()
  [[ $kind == Function ]] && runtime=(--embed-runtime-image-tarball "$OUT/image.tar")
  "$CROSSPLANE" xpkg build --package-root "$stage/$repo/package" \
    --examples-root "$stage/$repo/examples" "${runtime[@]}" \
    --package-file "$OUT/$repo-$VERSION.xpkg"
  echo "package: wrote $OUT/$repo-$VERSION.xpkg ($kind)" >&2
done <<<"$built"
