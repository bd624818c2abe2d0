#!/bin/sh
# bootstrap.sh - install the Debian 12 packages Tempest builds and tests with.
# Package lists live in scripts/packages/: *.build (needed to build) and
# *.test (needed by `make test`), *.bench (needed by bench/, never by make
# test or CI), one package per line, one file per area.  A file
# <area>.<kind>.debconf next to a list holds debconf answers given before
# the install (e.g. postfix: "No configuration", so no system MTA starts).
# As root it runs apt-get; otherwise it prints the exact command to run.
# Usage: scripts/bootstrap.sh [build|test|bench]
set -eu
here=$(dirname "$0")
kind=${1:-build}

# one package per line; '#' starts a comment
list() { sed 's/#.*//' "$@"; }
want=$(list "$here"/packages/*.build)
case $kind in
build) ;;
test|bench) want="$want $(list "$here"/packages/*."$kind")" ;;
*) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac

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
	for f in "$here"/packages/*."$kind".debconf; do
		[ -f "$f" ] && debconf-set-selections "$f"
	done
	apt-get update -q >/dev/null || true
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
else
	echo "bootstrap: missing Debian packages; run as root:"
	echo "  apt-get install -y$missing"
	exit 1
fi
