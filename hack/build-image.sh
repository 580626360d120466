#!/usr/bin/env bash
# Build the function's runtime image as an image tarball, with no Docker engine.
#
#   hack/build-image.sh OUT_DIR        writes OUT_DIR/image.tar (docker-save format, for
#                                      `crossplane xpkg build --embed-runtime-image-tarball`)
#                                      and OUT_DIR/image.txt (Debian packages, Python dists)
#
# Root is needed (debootstrap, chroot). Inputs, all from package registries:
# - a Debian bookworm build root (debootstrap --variant=minbase), cached in
#   $IMAGE_CACHE/buildroot; its apt fetches the runtime .debs (bookworm, -updates, -security);
# - wheels of the runtime dependencies at the versions requirements.lock pins
#   (the host's pip, `pip wheel -c requirements.lock .`): the lock's dev tools stay out.
#
# The image is three layers, from the least to the most often changed:
#   1. Debian: the runtime .debs below, unpacked (no maintainer scripts, no apt, no dpkg,
#      no shell), docs and locales removed, plus /etc/passwd with nonroot (65532) and /tmp;
#   2. /venv with the dependencies;
#   3. the project (its package, dist-info and entry point script).
# Bytecode is compiled once, deterministically, by the image's own interpreter; every file
# has the same mtime, uid/gid 0 and a sorted tar, so the same commit and the same Debian
# archive state give the same layer digests (tests/e2e/test_package.py builds twice).
# Entrypoint, command, user and port are the Dockerfile's (the same test compares them).
set -euo pipefail

OUT=${1:-}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CRANE=${CRANE:-$ROOT/.tools/bin/crane}
HOST_PYTHON=${HOST_PYTHON:-python3}
IMAGE_CACHE=${IMAGE_CACHE:-$ROOT/.cache/image}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SUITE=bookworm
PY=python3.11
# One fixed timestamp for every file and the image config: layers do not change with the
# commit date, only with their content.
EPOCH=${SOURCE_DATE_EPOCH:-0}
# The name the tarball records (the package it is embedded in is what gets pushed).
IMAGE_TAG=function-platform-runtime:v$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/pyproject.toml")

# Shared libraries and the interpreter the function needs at run time (check_libraries
# fails the build when one is missing). Leaves out what the function never loads:
# sqlite3, curses, readline, dbm, nis (their extension modules are removed too), tzdata
# and ca-certificates (requests uses certifi's bundle; a Vault CA comes from the input).
RUNTIME_DEBS=(
  libc6 libgcc-s1 libstdc++6 libssl3 zlib1g libexpat1 libffi8 libbz2-1.0 liblzma5
  libuuid1 libcrypt1 netbase
  "lib${PY}-minimal" "lib${PY}-stdlib" "${PY}-minimal"
)
# Extension modules whose libraries are not in the image, and stdlib parts never imported.
DROP_STDLIB=(
  lib-dynload/_sqlite3.* lib-dynload/_curses.* lib-dynload/_curses_panel.* lib-dynload/readline.*
  lib-dynload/_dbm.* lib-dynload/nis.* lib-dynload/_tkinter.*
  sqlite3 curses idlelib lib2to3 pydoc_data turtledemo tkinter ensurepip test
  config-3.11-x86_64-linux-gnu
)

START=$SECONDS
log() { printf 'image: [%3ds] %s\n' "$((SECONDS - START))" "$*" >&2; }
fail_log() { tail -20 "$1" >&2; exit 1; }
# A clean environment inside the chroots: nothing of the host's pip or Python settings.
CHROOT=$(command -v chroot || echo /usr/sbin/chroot)
in_root() { local dir=$1; shift; env -i PATH=/usr/bin:/bin LANG=C.UTF-8 "$CHROOT" "$dir" "$@"; }
buildroot=$IMAGE_CACHE/buildroot
work=$IMAGE_CACHE/work

preflight() {
  [[ $(id -u) == 0 ]] || { log "must run as root (debootstrap, chroot)"; exit 1; }
  [[ -x $CRANE ]] || { log "missing $CRANE: run make tools"; exit 1; }
  if ! command -v debootstrap >/dev/null; then
    log "installing Debian's debootstrap package"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
  fi
}

# The build root (cached): Debian minbase with the interpreter and Debian's pip wheel.
prepare_buildroot() {
  local stamp="$SUITE minbase ${PY} python3-pip-whl"
  if [[ ! -f $buildroot/.stamp || $(cat "$buildroot/.stamp") != "$stamp" ]]; then
    log "debootstrap $SUITE (minbase) into $buildroot"
    rm -rf "$buildroot" && mkdir -p "$IMAGE_CACHE"
    debootstrap --variant=minbase --include="${PY},python3-pip-whl" "$SUITE" "$buildroot" \
      "$DEBIAN_MIRROR" >"$IMAGE_CACHE/debootstrap.log" 2>&1 || fail_log "$IMAGE_CACHE/debootstrap.log"
    echo "$stamp" >"$buildroot/.stamp"
  fi
  printf '%s\n' "deb $DEBIAN_MIRROR $SUITE main" "deb $DEBIAN_MIRROR $SUITE-updates main" \
    "deb $DEBIAN_SECURITY_MIRROR $SUITE-security main" >"$buildroot/etc/apt/sources.list"
  cp /etc/resolv.conf "$buildroot/etc/resolv.conf" 2>/dev/null || true
  log "apt-get update"
  in_root "$buildroot" apt-get -q -o Acquire::Languages=none update >"$IMAGE_CACHE/apt.log" 2>&1 \
    || fail_log "$IMAGE_CACHE/apt.log"
  rm -rf "$work" && mkdir -p "$work"
}

# fetch_debs DIR PACKAGE...: the newest .debs of the suite (with -updates, -security).
fetch_debs() {
  local dir=$1; shift
  log "downloading $# Debian packages"
  rm -rf "${buildroot:?}/$dir" && mkdir -p "$buildroot/$dir"
  in_root "$buildroot" sh -c "cd /$dir && apt-get -q download $*" >>"$IMAGE_CACHE/apt.log" 2>&1 \
    || fail_log "$IMAGE_CACHE/apt.log"
}

# The project's sources the wheels are built from, as the Dockerfile copies them: the
# metadata and function/ only. Not the work tree itself: setuptools packs whatever its
# build/lib holds, and there a file removed from function/ can linger.
stage_source() {
  src=$work/src
  rm -rf "$src" && mkdir -p "$src"
  cp "$ROOT/pyproject.toml" "$ROOT/README.md" "$ROOT/requirements.lock" "$src/"
  cp -r "$ROOT/function" "$src/function"
}

# Wheels of the project and its runtime dependencies, at the versions requirements.lock pins.
# The dependencies' wheels are kept per content of the lock and pyproject.toml; the project's
# own wheel is built every time.
build_wheels() {
  local key deps
  stage_source
  key=$(cat "$src/requirements.lock" "$src/pyproject.toml" | sha256sum | cut -c1-16)
  deps=$IMAGE_CACHE/wheels-$key
  rm -rf "${buildroot:?}/wheels" && mkdir -p "$buildroot/wheels"
  if [[ ! -d $deps ]]; then
    log "wheels of the dependencies (pinned by requirements.lock)"
    rm -rf "$deps.tmp"
    "$HOST_PYTHON" -m pip wheel -q --disable-pip-version-check --only-binary=:all: \
      -c "$src/requirements.lock" -w "$deps.tmp" "$src" >"$work/pip.log" 2>&1 \
      || fail_log "$work/pip.log"
    rm -f "$deps.tmp"/function_platform-*.whl
    mv "$deps.tmp" "$deps"
  fi
  cp "$deps"/*.whl "$buildroot/wheels/"
  log "the project's wheel"
  "$HOST_PYTHON" -m pip wheel -q --disable-pip-version-check --no-deps \
    -w "$buildroot/wheels" "$src" >"$work/pip.log" 2>&1 || fail_log "$work/pip.log"
}

# install_venv DIR [PIP_OPTION...]: a venv at DIR in the build root with the project installed
# from the wheels. pip runs from Debian's wheel and is not installed into the venv.
install_venv() {
  local dir=$1; shift
  rm -rf "${buildroot:?}$dir"
  in_root "$buildroot" "/usr/bin/$PY" -m venv --without-pip "$dir"
  pip_whl=/$(cd "$buildroot" && ls usr/share/python-wheels/pip-*.whl)
  in_root "$buildroot" "$dir/bin/python" "$pip_whl/pip" install -q --disable-pip-version-check \
    --no-index --find-links /wheels "$@" function-platform
  rm -f "$buildroot$dir"/bin/{activate,activate.csh,activate.fish,Activate.ps1}
}

# Every installed distribution is pinned, at that version, by requirements.lock.
check_pinned() {
  in_root "$buildroot" /venv/bin/python "$pip_whl/pip" freeze --disable-pip-version-check \
    | grep -v '^function-platform==' | sort -f >"$work/freeze.txt"
  local unpinned
  unpinned=$(grep -v -x -i -F -f <(grep -v '^#' "$ROOT/requirements.lock") "$work/freeze.txt" || true)
  [[ -z $unpinned ]] || { log "installed but not pinned by requirements.lock: $unpinned"; exit 1; }
}

# extract_debs ROOTFS DIR: the .debs' files (no maintainer scripts), and their control data
# where scanners look in images without dpkg (var/lib/dpkg/status.d, as distroless does).
extract_debs() {
  local rootfs=$1 dir=$2 deb name d
  rm -rf "$rootfs"
  mkdir -p "$rootfs"/{usr/bin,usr/lib,usr/lib64,usr/sbin,etc,tmp,root,home/nonroot,var/lib/dpkg/status.d}
  # Debian's merged /usr: the .debs still name /lib, /bin; tar keeps these symlinks.
  for d in bin lib lib64 sbin; do ln -s "usr/$d" "$rootfs/$d"; done
  : >"$work/packages.txt"
  for deb in "$buildroot/$dir"/*.deb; do
    dpkg-deb --fsys-tarfile "$deb" | tar -x --keep-directory-symlink -C "$rootfs"
    name=$(dpkg-deb -f "$deb" Package)
    dpkg-deb -f "$deb" >"$rootfs/var/lib/dpkg/status.d/$name"
    dpkg-deb -f "$deb" Package Version | paste -sd' ' >>"$work/packages.txt"
  done
  ln -sf "$PY" "$rootfs/usr/bin/python3"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$rootfs/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nonroot:x:65532:' >"$rootfs/etc/group"
  chmod 1777 "$rootfs/tmp"
  chmod 0700 "$rootfs/root"
}

# What a runtime never reads: docs, locales, iconv modules, the stdlib parts listed above.
slim() {
  local rootfs=$1 p
  rm -rf "$rootfs"/usr/share/{doc,man,info,lintian,locale,gdb,gcc,bug,menu} \
    "$rootfs"/usr/lib/x86_64-linux-gnu/gconv "$rootfs"/usr/lib/python3/dist-packages \
    "$rootfs"/etc/{init.d,cron.daily,logrotate.d,default} "$rootfs"/usr/bin/{pydoc*,py3compile,py3clean}
  for p in "${DROP_STDLIB[@]}"; do rm -rf "$rootfs/usr/lib/$PY/"$p; done
}

# Every ELF file's libraries resolve inside the image (the image's own dynamic linker).
check_libraries() {
  local missing
  missing=$(cd "$1" && find usr/lib venv -type f -name '*.so*' -print0 \
    | xargs -0 -n 50 env -i "$CHROOT" . /usr/lib64/ld-linux-x86-64.so.2 --list 2>&1 \
    | grep 'not found' | sort -u || true)
  [[ -z $missing ]] || { log "libraries missing from the image:"; echo "$missing" >&2; exit 1; }
}

# Bytecode compiled once by the image's interpreter, reproducibly: hash-based .pyc never
# checked against source mtimes, a fixed hash seed (frozenset constants), one process.
compile_bytecode() {
  find "$1/usr/lib/$PY" "$1/venv" -name '__pycache__' -prune -exec rm -rf {} +
  log "compiling bytecode"
  env -i PATH=/usr/bin LANG=C.UTF-8 PYTHONHASHSEED=0 "$CHROOT" "$1" "/usr/bin/$PY" \
    -m compileall -q -j 1 --invalidation-mode unchecked-hash "/usr/lib/$PY" /venv/lib >/dev/null
}

# layer ROOTFS NAME TAR_ARGS...: a reproducible gzipped tarball in $work (sorted, one mtime,
# numeric owners, no name or time in the gzip header).
layer() {
  local rootfs=$1 name=$2; shift 2
  tar -C "$rootfs" --create --format=gnu --sort=name --numeric-owner --mtime="@$EPOCH" "$@" \
    | gzip -6 -n >"$work/$name.tar.gz"
}

build_image() {
  [[ -n $OUT ]] || { echo "usage: build-image.sh OUT_DIR" >&2; exit 2; }
  preflight
  prepare_buildroot
  fetch_debs debs "${RUNTIME_DEBS[@]}"
  build_wheels
  install_venv /venv --no-compile
  check_pinned
  local rootfs=$work/rootfs
  extract_debs "$rootfs" debs
  slim "$rootfs"
  cp -a "$buildroot/venv" "$rootfs/venv"
  check_libraries "$rootfs"
  compile_bytecode "$rootfs"
  env -i PATH=/usr/bin LANG=C.UTF-8 "$CHROOT" "$rootfs" /venv/bin/python -c 'import function.runner'

  log "layers"
  local site=venv/lib/$PY/site-packages
  local project=(venv/bin/function-platform "$site/function"
    "$(cd "$rootfs" && ls -d "$site"/function_platform-*.dist-info)")
  layer "$rootfs" debian --exclude=./venv .
  layer "$rootfs" venv "${project[@]/#/--exclude=./}" ./venv
  layer "$rootfs" project "${project[@]/#/./}"

  log "image (crane, on a loopback registry)"
  local port ref
  port=$("$HOST_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$CRANE" registry serve --address "127.0.0.1:$port" >"$work/registry.log" 2>&1 &
  registry=$!
  trap 'kill "$registry" 2>/dev/null || true' EXIT
  for _ in $(seq 100); do
    (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  ref=127.0.0.1:$port/function-platform:build
  "$CRANE" append --insecure --oci-empty-base -t "$ref" -f "$work/debian.tar.gz" \
    -f "$work/venv.tar.gz" -f "$work/project.tar.gz" >/dev/null 2>"$work/crane.log" \
    || fail_log "$work/crane.log"
  mkdir -p "$OUT"
  "$CRANE" mutate --insecure "$ref" --set-platform linux/amd64 \
    --entrypoint=/venv/bin/function-platform --cmd=--tls-server-certs-dir,/tls/server \
    --user 65532:65532 --exposed-ports 9443/tcp \
    -e PATH=/venv/bin:/usr/bin:/bin -e LANG=C.UTF-8 -e PYTHONDONTWRITEBYTECODE=1 \
    -t "$IMAGE_TAG" -o "$OUT/image.tar" >/dev/null 2>>"$work/crane.log" || fail_log "$work/crane.log"
  {
    echo "# Debian packages in the image ($SUITE), as fetched"
    sort "$work/packages.txt"
    echo "# Python distributions in /venv"
    cat "$work/freeze.txt"
  } >"$OUT/image.txt"
  log "wrote $OUT/image.tar"
}

# Sourced (hack/estimate-distroless.sh), it only defines the steps.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  build_image
fi
