#!/usr/bin/env bash
# Make sure PostgreSQL server binaries (initdb, pg_ctl) are installed, for the
# Vault integration tests (tests/integration). Installs Debian's postgresql
# package when they are missing; does nothing otherwise. Needs root (or sudo)
# only when it has to install.
set -euo pipefail
if command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
	echo "postgresql: server binaries present"
	exit 0
fi
echo "postgresql: installing Debian's postgresql package"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends postgresql
