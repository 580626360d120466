#!/usr/bin/env bash
# Build both packages into OUT_DIR (make package):
#   OUT_DIR/image.tar                         the runtime image (hack/build-image.sh)
#   OUT_DIR/function-platform-<v>.xpkg        Function: package/crossplane.yaml, the input
#                                             CRD, the image embedded as its runtime
#   OUT_DIR/platform-catalogue-<v>.xpkg       Configuration: package/configuration/crossplane.yaml,
#                                             every file in xrds/ and compositions/, and the
#                                             examples' XRs (not the cases that must fail)
# <v> is the project version (pyproject.toml), the tag to push both with.
set -euo pipefail

OUT=${1:?usage: build-packages.sh OUT_DIR}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CROSSPLANE=${CROSSPLANE:-$ROOT/.tools/bin/crossplane}
VERSION=v$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/pyproject.toml")

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
"$ROOT/hack/build-image.sh" "$OUT"

# Package roots hold exactly what each package carries: xpkg build reads every YAML file.
stage=$OUT/stage
rm -rf "$stage" && mkdir -p "$stage/function/input" "$stage/configuration" "$stage/examples"
cp "$ROOT/package/crossplane.yaml" "$stage/function/"
cp "$ROOT"/package/input/*.yaml "$stage/function/input/"
cp "$ROOT/package/configuration/crossplane.yaml" "$stage/configuration/"
cp "$ROOT"/xrds/*.yaml "$ROOT"/compositions/*.yaml "$stage/configuration/"
for xr in "$ROOT"/examples/*/*/xr.yaml; do
  case_dir=$(dirname "$xr")
  [[ -e $case_dir/expected-error.txt ]] && continue
  kind=$(basename "$(dirname "$case_dir")")
  mkdir -p "$stage/examples/$kind"
  cp "$xr" "$stage/examples/$kind/$(basename "$case_dir").yaml"
done

export CROSSPLANE_XPKG_CACHE=${CROSSPLANE_XPKG_CACHE:-$stage/xpkg-cache}
"$CROSSPLANE" xpkg build --package-root "$stage/function" --examples-root "$stage/no-examples" \
  --embed-runtime-image-tarball "$OUT/image.tar" \
  --package-file "$OUT/function-platform-$VERSION.xpkg"
"$CROSSPLANE" xpkg build --package-root "$stage/configuration" --examples-root "$stage/examples" \
  --package-file "$OUT/platform-catalogue-$VERSION.xpkg"
echo "package: wrote $OUT/function-platform-$VERSION.xpkg and $OUT/platform-catalogue-$VERSION.xpkg" >&2
