#!/usr/bin/env bash
# Make sure PostgreSQL server binaries (initdb, pg_ctl) are installed, for the Vault
# integration tests (tests/integration). When they are missing: as root, installs Debian's
# postgresql package; otherwise installs nothing (make test needs no root) and says so: those
# tests then fail, telling to run `sudo make postgresql`.
set -euo pipefail
if command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
	echo "postgresql: server binaries present"
	exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "postgresql: no server binaries (initdb) and not root: the Vault integration tests" \
		"will fail; run \`sudo make postgresql\` to install Debian's postgresql package" >&2
	exit 0
fi
echo "postgresql: installing Debian's postgresql package"
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql
