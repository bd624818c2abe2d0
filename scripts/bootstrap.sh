#!/bin/sh
# bootstrap.sh - install the Debian 12 packages Tempest builds and tests with.
# Package lists live in scripts/packages/: *.build (needed to build) and
# *.test (needed by `make test`), one package per line, one file per area.
# As root it runs apt-get; otherwise it prints the exact command to run.
# Usage: scripts/bootstrap.sh [build|test]
set -eu
here=$(dirname "$0")
kind=${1:-build}

want=$(cat "$here"/packages/*.build)
[ "$kind" = test ] && want="$want $(cat "$here"/packages/*.test)"

missing=""
for p in $want; do
	case $p in \#*) continue ;; esac
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
