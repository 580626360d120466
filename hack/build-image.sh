#!/usr/bin/env bash
# Build the function's runtime image for linux/amd64 and linux/arm64, with no Docker engine.
#
#   hack/build-image.sh OUT_DIR   writes
#     OUT_DIR/image.tar           an OCI image layout (tar) whose one entry is the image index
#                                 of both platforms (`crane push` takes it unpacked, a directory)
#     OUT_DIR/image-<arch>.tar    each platform's image as a docker-save tarball, what
#                                 `crossplane xpkg build --embed-runtime-image-tarball` reads
#                                 (one image per package: hack/build-packages.sh)
#     OUT_DIR/image.txt           the Debian packages and Python distributions, per platform
#
# Root is needed (debootstrap, chroot), on an amd64 Debian host. Inputs, all from package
# registries:
# - a Debian bookworm amd64 build root (debootstrap --variant=minbase), cached in
#   $IMAGE_CACHE/buildroot; its apt fetches the runtime .debs of both architectures (bookworm,
#   -updates, -security);
# - wheels of the runtime dependencies at the versions requirements.lock pins, for CPython 3.11
#   on each architecture's manylinux (`pip download --platform`: the host's Python version
#   does not matter), and the project's own wheel: the lock's dev tools stay out.
#
# Each platform's image is three layers, from the least to the most often changed:
#   1. Debian: the runtime .debs below, unpacked (no maintainer scripts, no apt, no dpkg,
#      no shell), docs and locales removed, plus /etc/passwd with nonroot (65532) and /tmp;
#   2. /venv with the dependencies;
#   3. the project (its package, dist-info and entry point script), the same in both images.
# Nothing of arm64 runs during the build: its venv is installed by the build root's pip from
# aarch64 wheels, its bytecode compiled by the amd64 image's interpreter (.pyc files do not
# depend on the machine), and its ELF files are checked by reading them (check_elf).
# Bytecode is compiled once, deterministically, by that Python 3.11; every file has the same
# mtime, uid/gid 0 and a sorted tar, so the same commit and the same Debian archive state give
# the same layer and index digests (tests/e2e/test_package.py builds twice).
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
# The image index's platforms (linux/<arch>), in its order. The build root is NATIVE: its
# chroots run the amd64 image's interpreter.
ARCHES=(amd64 arm64)
NATIVE=amd64
# Each Debian architecture's GNU triplet (its library directory; the first part is the
# machine manylinux wheel tags name, PEP 600) and readelf's name for its ELF machine.
declare -A TRIPLET=([amd64]=x86_64-linux-gnu [arm64]=aarch64-linux-gnu)
declare -A ELF_MACHINE=([amd64]="Advanced Micro Devices X86-64" [arm64]=AArch64)
# One fixed timestamp for every file and the image config: layers do not change with the
# commit date, only with their content.
EPOCH=${SOURCE_DATE_EPOCH:-0}
# The name the docker-save tarballs record (the package they are embedded in is what gets
# pushed).
IMAGE_TAG=function-platform-runtime:v$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/pyproject.toml")

# Shared libraries and the interpreter the function needs at run time (check_elf and
# check_libraries fail the build when one is missing). Leaves out what the function never
# loads: sqlite3, curses, readline, dbm, nis (their extension modules are removed too), tzdata
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
  'config-3.11-*-linux-gnu'
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
  [[ $(dpkg --print-architecture) == "$NATIVE" ]] \
    || { log "must run on a $NATIVE Debian host (the build root's chroots run there)"; exit 1; }
  [[ -x $CRANE ]] || { log "missing $CRANE: run make tools"; exit 1; }
  local missing=()
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v readelf >/dev/null || missing+=(binutils)
  if ((${#missing[@]})); then
    log "installing Debian's ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
  fi
}

# The build root (cached): Debian minbase with the interpreter and Debian's pip wheel. Its apt
# reads the package indexes of every architecture of the image (apt.conf(5), APT::Architectures).
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
  printf 'APT::Architectures { %s};\n' "$(printf '"%s"; ' "${ARCHES[@]}")" \
    >"$buildroot/etc/apt/apt.conf.d/90image-architectures"
  cp /etc/resolv.conf "$buildroot/etc/resolv.conf" 2>/dev/null || true
  log "apt-get update (${ARCHES[*]})"
  in_root "$buildroot" apt-get -q -o Acquire::Languages=none update >"$IMAGE_CACHE/apt.log" 2>&1 \
    || fail_log "$IMAGE_CACHE/apt.log"
  rm -rf "$work" && mkdir -p "$work"
}

# fetch_debs DIR ARCH PACKAGE...: ARCH's newest .debs of the suite (with -updates, -security),
# apt taking ARCH as its own (APT::Architecture) so that Architecture: all packages come too.
fetch_debs() {
  local dir=$1 arch=$2; shift 2
  log "$arch: downloading $# Debian packages"
  rm -rf "${buildroot:?}/$dir" && mkdir -p "$buildroot/$dir"
  in_root "$buildroot" sh -c "cd /$dir && apt-get -q -o APT::Architecture=$arch download $*" \
    >>"$IMAGE_CACHE/apt.log" 2>&1 || fail_log "$IMAGE_CACHE/apt.log"
}

# The project's sources the wheels are built from, as the Dockerfile copies them: the
# metadata, LICENSE (setuptools puts it in the wheel's dist-info: Apache-2.0 section 4(a)
# asks for it with every copy) and function/ only. Not the work tree itself: setuptools packs
# whatever its build/lib holds, and there a file removed from function/ can linger.
stage_source() {
  src=$work/src
  rm -rf "$src" && mkdir -p "$src"
  cp "$ROOT/pyproject.toml" "$ROOT/README.md" "$ROOT/LICENSE" "$ROOT/requirements.lock" "$src/"
  cp -r "$ROOT/function" "$src/function"
}

# manylinux_platforms MACHINE GLIBC_MINOR: pip --platform options for every manylinux tag a
# glibc 2.GLIBC_MINOR system accepts, best first, as packaging.tags lists them for a running
# interpreter (_manylinux.platform_tags: PEP 600 tags down to glibc 2.17, 2.5 on x86_64, each
# legacy alias of PEP 599, 571 and 513 after its glibc version). pip does not widen a
# --platform to older glibc versions itself.
manylinux_platforms() {
  local machine=$1 minor=$2 oldest=17 v
  [[ $machine == x86_64 ]] && oldest=5
  for ((v = minor; v >= oldest; v--)); do
    echo "--platform=manylinux_2_${v}_$machine"
    case $v in
      17) echo "--platform=manylinux2014_$machine" ;;
      12) echo "--platform=manylinux2010_$machine" ;;
      5) echo "--platform=manylinux1_$machine" ;;
    esac
  done
}

# Wheels of the project and of its runtime dependencies for each ARCH (default: every one), at
# the versions requirements.lock pins, for the image's interpreter: CPython 3.11 on the suite's
# glibc (the build root's: every architecture of a suite has the same). The dependencies'
# wheels are kept per content of the lock and pyproject.toml, architecture and glibc; the
# project's own wheel (pure Python, one for all) is built every time, into $work/project.
declare -A WHEELS
build_wheels() {
  local arch machine glibc key deps
  stage_source
  glibc=$(in_root "$buildroot" getconf GNU_LIBC_VERSION | cut -d' ' -f2)
  for arch in "${@:-${ARCHES[@]}}"; do
    machine=${TRIPLET[$arch]%%-*}
    key=$({ cat "$src/requirements.lock" "$src/pyproject.toml"; echo "$arch $glibc"; } \
      | sha256sum | cut -c1-16)
    deps=$IMAGE_CACHE/wheels-$key
    if [[ ! -d $deps ]]; then
      log "$arch: wheels of the dependencies (pinned by requirements.lock, glibc $glibc)"
      rm -rf "$deps.tmp"
      # shellcheck disable=SC2046  # one option per line
      "$HOST_PYTHON" -m pip download -q --disable-pip-version-check --only-binary=:all: \
        --implementation cp --python-version "${PY#python}" --abi "cp$(tr -d . <<<"${PY#python}")" \
        $(manylinux_platforms "$machine" "${glibc#*.}") \
        -c "$src/requirements.lock" -d "$deps.tmp" "$src" >"$work/pip.log" 2>&1 \
        || fail_log "$work/pip.log"
      mv "$deps.tmp" "$deps"
    fi
    WHEELS[$arch]=$deps
  done
  log "the project's wheel"
  "$HOST_PYTHON" -m pip wheel -q --disable-pip-version-check --no-deps \
    -w "$work/project" "$src" >"$work/pip.log" 2>&1 || fail_log "$work/pip.log"
}

# install_venv DIR ARCH [PIP_OPTION...]: a venv at DIR in the build root with the project
# installed from ARCH's wheels. pip runs from Debian's wheel and is not installed into the
# venv. pip picks wheels for the platform sysconfig.get_platform() names, which CPython takes
# from _PYTHON_HOST_PLATFORM when set, for cross builds (Lib/sysconfig.py; packaging.tags
# derives the manylinux tags from it): the venv is laid out as a native one and only ARCH's
# wheels are on offer. No dependency has a platform_machine marker that the build root's
# machine would answer.
install_venv() {
  local dir=$1 arch=$2; shift 2
  rm -rf "${buildroot:?}$dir" "${buildroot:?}/wheels" && mkdir -p "$buildroot/wheels"
  cp "${WHEELS[$arch]}"/*.whl "$work"/project/*.whl "$buildroot/wheels/"
  in_root "$buildroot" "/usr/bin/$PY" -m venv --without-pip "$dir"
  pip_whl=/$(cd "$buildroot" && ls usr/share/python-wheels/pip-*.whl)
  in_root "$buildroot" /usr/bin/env _PYTHON_HOST_PLATFORM="linux-${TRIPLET[$arch]%%-*}" \
    "$dir/bin/python" "$pip_whl/pip" install -q --disable-pip-version-check \
    --no-index --find-links /wheels "$@" function-platform
  rm -f "$buildroot$dir"/bin/{activate,activate.csh,activate.fish,Activate.ps1}
}

# check_pinned ARCH: every distribution installed in /venv is pinned, at that version, by
# requirements.lock, and every architecture has the same ones.
check_pinned() {
  local arch=$1 unpinned
  in_root "$buildroot" /venv/bin/python "$pip_whl/pip" freeze --disable-pip-version-check \
    | grep -v '^function-platform==' | sort -f >"$work/freeze-$arch.txt"
  unpinned=$(grep -v -x -i -F -f <(grep -v '^#' "$ROOT/requirements.lock") "$work/freeze-$arch.txt" || true)
  [[ -z $unpinned ]] || { log "installed but not pinned by requirements.lock: $unpinned"; exit 1; }
  cmp -s "$work/freeze-$arch.txt" "$work/freeze-${ARCHES[0]}.txt" \
    || { log "$arch: other distributions than ${ARCHES[0]}'s in /venv"; exit 1; }
}

# extract_debs ROOTFS DIR: the .debs' files (no maintainer scripts), and their control data
# where scanners look in images without dpkg (var/lib/dpkg/status.d, as distroless does).
# Their names and versions go to ROOTFS.packages.
extract_debs() {
  local rootfs=$1 dir=$2 deb name d
  rm -rf "$rootfs"
  mkdir -p "$rootfs"/{usr/bin,usr/lib,usr/lib64,usr/sbin,etc,tmp,root,home/nonroot,var/lib/dpkg/status.d}
  # Debian's merged /usr: the .debs still name /lib, /bin; tar keeps these symlinks.
  for d in bin lib lib64 sbin; do ln -s "usr/$d" "$rootfs/$d"; done
  : >"$rootfs.packages"
  for deb in "$buildroot/$dir"/*.deb; do
    dpkg-deb --fsys-tarfile "$deb" | tar -x --keep-directory-symlink -C "$rootfs"
    name=$(dpkg-deb -f "$deb" Package)
    dpkg-deb -f "$deb" >"$rootfs/var/lib/dpkg/status.d/$name"
    dpkg-deb -f "$deb" Package Version | paste -sd' ' >>"$rootfs.packages"
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
    "$rootfs"/usr/lib/*-linux-gnu/gconv "$rootfs"/usr/lib/python3/dist-packages \
    "$rootfs"/etc/{init.d,cron.daily,logrotate.d,default} "$rootfs"/usr/bin/{pydoc*,py3compile,py3clean}
  for p in "${DROP_STDLIB[@]}"; do rm -rf "$rootfs/usr/lib/$PY/"$p; done
}

# Every ELF file's libraries resolve inside the image (the image's own dynamic linker; the
# NATIVE image only, the one the host runs).
check_libraries() {
  local missing
  missing=$(cd "$1" && find usr/lib venv -type f -name '*.so*' -print0 \
    | xargs -0 -n 50 env -i "$CHROOT" . /usr/lib64/ld-linux-x86-64.so.2 --list 2>&1 \
    | grep 'not found' | sort -u || true)
  [[ -z $missing ]] || { log "libraries missing from the image:"; echo "$missing" >&2; exit 1; }
}

# check_elf ROOTFS ARCH: every ELF file (executables and shared objects) is for ARCH's machine,
# its program interpreter is in the image, and so is every library it needs, read with
# readelf rather than run: this covers an image the host cannot run. The dynamic linker looks
# in the multiarch directory and /usr/lib (the image has no ld.so.cache; ld.so(8)); a file
# with an RPATH or RUNPATH fails the check, which does not follow them.
check_elf() {
  local rootfs=$1 arch=$2 file info lib problems=() count=0
  local machine=${ELF_MACHINE[$arch]} libdirs=("usr/lib/${TRIPLET[$arch]}" usr/lib)
  while IFS= read -r -d '' file; do
    [[ $(head -c 4 "$rootfs/$file") == $'\x7fELF' ]] || continue
    count=$((count + 1))
    info=$(readelf -h -l -d -W "$rootfs/$file")
    [[ $(sed -n 's/^ *Machine: *//p' <<<"$info") == "$machine" ]] \
      || problems+=("$file: not $machine")
    ! grep -q '(RPATH)\|(RUNPATH)' <<<"$info" || problems+=("$file: has an RPATH or RUNPATH")
    lib=$(sed -n 's/.*program interpreter: \(.*\)\]$/\1/p' <<<"$info")
    [[ -z $lib || -e $rootfs$lib ]] || problems+=("$file: no interpreter $lib")
    while read -r lib; do
      [[ -e $rootfs/${libdirs[0]}/$lib || -e $rootfs/${libdirs[1]}/$lib ]] \
        || problems+=("$file: needs $lib")
    done < <(sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' <<<"$info")
  done < <(cd "$rootfs" && find usr venv -type f \( -name '*.so' -o -name '*.so.*' -o -perm -u+x \) -print0)
  ((count > 0)) || problems+=("no ELF file found")
  if ((${#problems[@]})); then
    log "$arch: ELF files that do not fit the image:"
    printf '  %s\n' "${problems[@]}" >&2
    exit 1
  fi
  log "$arch: $count ELF files, all $machine, their libraries in the image"
}

# compile_bytecode ROOTFS: bytecode compiled once by the NATIVE image's interpreter,
# reproducibly: hash-based .pyc never checked against source mtimes, a fixed hash seed
# (frozenset constants), one process. Another architecture's root is moved into the native
# one for that and its paths recorded as its own (compileall -s, -p); a .pyc depends on the
# Python version only (importlib's MAGIC_NUMBER), not on the machine.
compile_bytecode() {
  local rootfs=$1 native=$work/rootfs-$NATIVE dir="" strip=()
  find "$rootfs/usr/lib/$PY" "$rootfs/venv" -name '__pycache__' -prune -exec rm -rf {} +
  log "$(basename "$rootfs"): compiling bytecode"
  if [[ $rootfs != "$native" ]]; then
    dir=/.foreign strip=(-s /.foreign -p /)
    mv "$rootfs" "$native$dir"
  fi
  env -i PATH=/usr/bin LANG=C.UTF-8 PYTHONHASHSEED=0 "$CHROOT" "$native" "/usr/bin/$PY" \
    -m compileall -q -j 1 --invalidation-mode unchecked-hash "${strip[@]}" \
    "$dir/usr/lib/$PY" "$dir/venv/lib" >/dev/null
  [[ -z $dir ]] || mv "$native$dir" "$rootfs"
}

# layer ROOTFS NAME TAR_ARGS...: a reproducible gzipped tarball in $work (sorted, one mtime,
# numeric owners, no name or time in the gzip header).
layer() {
  local rootfs=$1 name=$2; shift 2
  tar -C "$rootfs" --create --format=gnu --sort=name --numeric-owner --mtime="@$EPOCH" "$@" \
    | gzip -6 -n >"$work/$name.tar.gz"
}

# assemble_rootfs ARCH: ARCH's root file system in $work/rootfs-ARCH, checked, without bytecode.
assemble_rootfs() {
  local arch=$1 rootfs=$work/rootfs-$1
  log "$arch: /venv"
  install_venv /venv "$arch" --no-compile
  check_pinned "$arch"
  extract_debs "$rootfs" "debs-$arch"
  slim "$rootfs"
  cp -a "$buildroot/venv" "$rootfs/venv"
  check_elf "$rootfs" "$arch"
}

# make_layers ARCH: ARCH's three layers, $work/{debian,venv,project}-ARCH.tar.gz.
make_layers() {
  local arch=$1 rootfs=$work/rootfs-$1 site=venv/lib/$PY/site-packages
  log "$arch: layers"
  local project=(venv/bin/function-platform "$site/function"
    "$(cd "$rootfs" && ls -d "$site"/function_platform-*.dist-info)")
  layer "$rootfs" "debian-$arch" --exclude=./venv .
  layer "$rootfs" "venv-$arch" "${project[@]/#/--exclude=./}" ./venv
  layer "$rootfs" "project-$arch" "${project[@]/#/./}"
}

# The images and their index, pushed by crane to a registry on loopback (crane registry
# serve), then written out: the index as an OCI image layout (crane pull --format=oci; the
# layout's index.json names the index, image-spec image-layout.md), each image as a docker-save
# tarball. Each image's config is set once (crane mutate) and written twice, pushed and to
# its tarball, from the same base, so both are the same config blob.
images() {
  local port repo arch config
  port=$("$HOST_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$CRANE" registry serve --address "127.0.0.1:$port" >"$work/registry.log" 2>&1 &
  registry=$!
  trap 'kill "$registry" 2>/dev/null || true' EXIT
  for _ in $(seq 100); do
    (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  repo=127.0.0.1:$port/function-platform
  mkdir -p "$OUT"
  rm -f "$OUT"/image-*.tar
  for arch in "${ARCHES[@]}"; do
    log "$arch: image"
    "$CRANE" append --insecure --oci-empty-base -t "$repo:$arch-layers" -f "$work/debian-$arch.tar.gz" \
      -f "$work/venv-$arch.tar.gz" -f "$work/project-$arch.tar.gz" >/dev/null 2>>"$work/crane.log" \
      || fail_log "$work/crane.log"
    config=(--set-platform "linux/$arch" --entrypoint=/venv/bin/function-platform
      --cmd=--tls-server-certs-dir,/tls/server --user 65532:65532 --exposed-ports 9443/tcp
      -e PATH=/venv/bin:/usr/bin:/bin -e LANG=C.UTF-8 -e PYTHONDONTWRITEBYTECODE=1)
    "$CRANE" mutate --insecure "$repo:$arch-layers" "${config[@]}" -t "$repo:$arch" \
      >/dev/null 2>>"$work/crane.log" || fail_log "$work/crane.log"
    "$CRANE" mutate --insecure "$repo:$arch-layers" "${config[@]}" -t "$IMAGE_TAG" \
      -o "$OUT/image-$arch.tar" >/dev/null 2>>"$work/crane.log" || fail_log "$work/crane.log"
  done
  log "image index (${ARCHES[*]})"
  "$CRANE" index append --insecure "${ARCHES[@]/#/--manifest=$repo:}" -t "$repo:index" \
    >/dev/null 2>>"$work/crane.log" || fail_log "$work/crane.log"
  rm -rf "$work/oci"
  "$CRANE" pull --insecure --format=oci "$repo:index" "$work/oci" 2>>"$work/crane.log" \
    || fail_log "$work/crane.log"
  tar -C "$work/oci" --create --format=gnu --sort=name --numeric-owner --owner=0 --group=0 \
    --mode=u=rwX,go=rX --mtime="@$EPOCH" -f "$OUT/image.tar" oci-layout index.json blobs
}

build_image() {
  [[ -n $OUT ]] || { echo "usage: build-image.sh OUT_DIR" >&2; exit 2; }
  local arch
  preflight
  prepare_buildroot
  for arch in "${ARCHES[@]}"; do fetch_debs "debs-$arch" "$arch" "${RUNTIME_DEBS[@]}"; done
  build_wheels
  for arch in "${ARCHES[@]}"; do assemble_rootfs "$arch"; done
  check_libraries "$work/rootfs-$NATIVE"
  for arch in "${ARCHES[@]}"; do compile_bytecode "$work/rootfs-$arch"; done
  env -i PATH=/usr/bin LANG=C.UTF-8 "$CHROOT" "$work/rootfs-$NATIVE" /venv/bin/python \
    -c 'import function.runner'
  for arch in "${ARCHES[@]}"; do make_layers "$arch"; done
  images
  {
    echo "# Debian packages in the image ($SUITE), as fetched, per platform"
    for arch in "${ARCHES[@]}"; do
      echo "## linux/$arch"
      sort "$work/rootfs-$arch.packages"
    done
    echo "# Python distributions in /venv (every platform)"
    cat "$work/freeze-${ARCHES[0]}.txt"
  } >"$OUT/image.txt"
  log "wrote $OUT/image.tar (the index of ${ARCHES[*]/#/linux/}) and $OUT/image-<arch>.tar"
}

# Sourced (hack/estimate-distroless.sh), it only defines the steps.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  build_image
fi
