#!/usr/bin/env bash
# Build every package into OUT_DIR (make package):
#   OUT_DIR/image.tar, image-<arch>.tar      the runtime image: the index of linux/amd64 and
#                                            linux/arm64, and each one (hack/build-image.sh)
#   OUT_DIR/function-platform-<v>-<arch>.xpkg  Function, one per platform: package/crossplane.yaml,
#                                            the input CRD, that platform's image embedded as
#                                            its runtime
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
# xpkg_build REPO FILE [OPTION...]: the package of stage/REPO into OUT/FILE.
xpkg_build() {
  local repo=$1 file=$2; shift 2
  "$CROSSPLANE" xpkg build --package-root "$stage/$repo/package" \
    --examples-root "$stage/$repo/examples" "$@" --package-file "$OUT/$file"
  echo "package: wrote $OUT/$file" >&2
}
while read -r kind repo; do
  if [[ $kind != Function ]]; then
    xpkg_build "$repo" "$repo-$VERSION.xpkg"
    continue
  fi
  # xpkg build embeds one image (a docker-save tarball), so one Function package per platform;
  # `crossplane xpkg push -f` of them all pushes them as one index (docs/image.md).
  for image in "$OUT"/image-*.tar; do
    arch=$(basename "$image" .tar)
    xpkg_build "$repo" "$repo-$VERSION-${arch#image-}.xpkg" --embed-runtime-image-tarball "$image"
  done
done <<<"$built"
