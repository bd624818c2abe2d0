#!/bin/sh
# fuzz.sh [seconds] - build every fuzz target with clang + libFuzzer +
# ASan/UBSan in build-fuzz/ and run each for a short while (default 20 s).
# fuzz/corpus-NAME/ (not committed) keeps what the runs find; the
# committed fuzz/seed-NAME/ (a few KB of inputs picked from a longer
# campaign for the features they reach) and a dictionary of the input
# format (fuzz/FORMAT.dict: keywords), where present, start a short run deep in the parser.
set -eu
secs=${1:-20}
cd "$(dirname "$0")/.."
if [ ! -d build-fuzz ]; then
	CC=clang meson setup build-fuzz -Dfuzz=true -Dwerror=false \
	    -Dc_args=-fsanitize=fuzzer-no-link,address,undefined \
	    -Dc_link_args=-fsanitize=address,undefined >/dev/null
fi
ninja -C build-fuzz >build-fuzz/ninja.log 2>&1 || {
	echo "fuzz: build failed:"; grep -E "FAILED|error" build-fuzz/ninja.log | head -20
	exit 1
}
# undefined behaviour stops a run like a memory error (UBSan only prints
# by default, and the run would pass)
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export UBSAN_OPTIONS
status=0
for t in build-fuzz/fuzz/fuzz-*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	name=$(basename "$t")
	corpus=fuzz/corpus-${name#fuzz-}
	mkdir -p "$corpus"
	echo "fuzz: $name for ${secs}s"
	seeds=fuzz/seed-${name#fuzz-}
	# one dictionary per format: the targets reading the same one share it
	case ${name#fuzz-} in
	mail-mime|smtp-mime|lr) dict=fuzz/mime.dict ;;
	rule-cache|rule-literals) dict=fuzz/rules.dict ;;
	scram-client) dict=fuzz/scram.dict ;;
	*) dict=fuzz/${name#fuzz-}.dict ;;
	esac
	[ -d "$seeds" ] || seeds=
	[ -f "$dict" ] && dict=-dict=$dict || dict=
	"$t" -max_total_time="$secs" -max_len=65536 $dict "$corpus" $seeds \
	    2>"build-fuzz/$name.log" || { status=1; tail -30 "build-fuzz/$name.log"; }
done
exit $status
