#!/bin/sh
# bootstrap.sh - install the Debian 12 packages Tempest builds and tests with.
# As root it runs apt-get; otherwise it prints the exact command to run.
# Usage: scripts/bootstrap.sh [build|test]   (test adds the test-only tools)
set -eu

BUILD_PKGS="gcc make meson ninja-build pkg-config libevent-dev libssl-dev
libsqlite3-dev libc-ares-dev libpcre2-dev libcrypt-dev openssl"
TEST_PKGS="python3 python3-pytest swaks curl strace procmail"

want="$BUILD_PKGS"
[ "${1:-build}" = test ] && want="$want $TEST_PKGS"
[ -n "${TEMPEST_EXTRA_PKGS:-}" ] && want="$want $TEMPEST_EXTRA_PKGS"

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
	echo "bootstrap: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null || true
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
else
	echo "bootstrap: missing Debian packages; run as root:"
	echo "  apt-get install -y$missing"
	exit 1
fi
