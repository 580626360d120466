#!/usr/bin/env bash
# What crossplane/function-template-python's Dockerfile would give for these dependencies,
# measured the same way as our image (no registry can pull gcr.io/distroless here).
#
#   hack/estimate-distroless.sh        prints compressed and unpacked sizes
#
# The template's final stage is gcr.io/distroless/python3-debian12 plus a venv made with
# `python3 -m venv` (pip and setuptools in it, as ensurepip puts them there on 3.11) and
# `pip install` of the function wheel (pip compiles .pyc). distroless builds python3-debian12
# from Debian .debs: static (base-files netbase tzdata media-types, its CA bundle from
# ca-certificates), base (libc6 libssl3), cc (libgomp1 libstdc++6 libgcc-s1 gcc-12-base)
# and the python3 list below, as GoogleContainerTools/distroless python3/config.bzl had it
# for debian12 (commit 323f1b87, the last with debian12). Here the same .debs, at today's
# bookworm versions, are unpacked whole (distroless keeps their files), the venv is built
# as the template does, and each part is one tarball gzipped like our layers. Not counted:
# distroless's own small files (passwd, os-release) and its per-package layer overhead.
set -euo pipefail
# shellcheck source=hack/build-image.sh
source "$(dirname "${BASH_SOURCE[0]}")/build-image.sh"

DISTROLESS_DEBS=(
  base-files netbase tzdata media-types ca-certificates
  libc6 libssl3
  libgomp1 libstdc++6 libgcc-s1 gcc-12-base
  libbz2-1.0 libdb5.3 libexpat1 liblzma5 libsqlite3-0 libuuid1 libncursesw6 libtinfo6
  python3-distutils zlib1g libcom-err2 libcrypt1 libgssapi-krb5-2 libk5crypto3 libkeyutils1
  libkrb5-3 libkrb5support0 libnsl2 libreadline8 libtirpc3 libffi8
  libpython3.11-minimal libpython3.11-stdlib python3.11-minimal
)

preflight
prepare_buildroot
fetch_debs distroless-debs "$NATIVE" "${DISTROLESS_DEBS[@]}"
build_wheels "$NATIVE"
# As the template: pip and setuptools in the venv (ensurepip's wheels), pip compiling .pyc.
# The build root holds Debian's pip wheel only; Debian's setuptools wheel comes from its .deb.
fetch_debs setuptools-whl "$NATIVE" python3-setuptools-whl
dpkg-deb -x "$buildroot"/setuptools-whl/*.deb "$buildroot/setuptools-whl"
install_venv /venv "$NATIVE"
setuptools_whl=$(cd "$buildroot" && ls setuptools-whl/usr/share/python-wheels/setuptools-*.whl)
in_root "$buildroot" /venv/bin/python "$pip_whl/pip" install -q --no-index \
  "$pip_whl" "/$setuptools_whl"
rootfs=$work/distroless-rootfs
extract_debs "$rootfs" distroless-debs
cp -a "$buildroot/venv" "$rootfs/venv"
layer "$rootfs" distroless-base --exclude=./venv .
layer "$rootfs" distroless-venv ./venv
size() { du -sb --apparent-size "$@" | awk '{s += $1} END {printf "%.1f MB", s / 1e6}'; }
echo "distroless python3-debian12 + template venv, estimated:"
echo "  base layers: $(size "$work/distroless-base.tar.gz") compressed," \
  "$(cd "$rootfs" && find . -path ./venv -prune -o -type f -print0 | du -cb --apparent-size --files0-from=- | tail -1 | awk '{printf "%.1f MB", $1 / 1e6}') unpacked"
echo "  venv layer:  $(size "$work/distroless-venv.tar.gz") compressed," \
  "$(cd "$rootfs" && find venv -type f -print0 | du -cb --apparent-size --files0-from=- | tail -1 | awk '{printf "%.1f MB", $1 / 1e6}') unpacked"
echo "  total:       $(size "$work"/distroless-{base,venv}.tar.gz) compressed," \
  "$(cd "$rootfs" && find . -type f -print0 | du -cb --apparent-size --files0-from=- | tail -1 | awk '{printf "%.1f MB", $1 / 1e6}') unpacked"
