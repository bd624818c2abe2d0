#!/bin/sh
# bench/run.sh - run every benchmark (not part of make test).
set -eu
cd "$(dirname "$0")/.."
for b in bench/*/run.py bench/*/run.sh; do
	[ -x "$b" ] || continue
	echo "== $b"
	"$b"
done
