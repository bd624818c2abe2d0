# Tempest: the front door.  The build itself is Meson + Ninja.
#   make        install missing Debian packages, build build/tempest
#   make run    build, create ./run (once) and run it in the foreground
#   make test   build, then every test (unit + end-to-end)
#   make asan   the same tests on an ASan+UBSan build in build-asan/
#   make fuzz   short libFuzzer runs of every parser (clang)

BUILD ?= build
PYTHON ?= /usr/bin/python3
MESON_BUILDS := $(shell find src fuzz -name meson.build 2>/dev/null) meson.build

.PHONY: all deps build run test unit e2e asan fuzz bench clean

all: build

deps:
	@scripts/bootstrap.sh build

deps-test:
	@scripts/bootstrap.sh test

# Reconfigure whenever a meson.build appears or changes (folders join the
# build by existing).
$(BUILD)/build.ninja: $(MESON_BUILDS)
	@if [ -d $(BUILD) ]; then meson setup --reconfigure $(BUILD) $(MESON_ARGS) >/dev/null; \
	 else meson setup $(BUILD) $(MESON_ARGS) >/dev/null; fi
	@touch $@

build: deps $(BUILD)/build.ninja
	@ninja -C $(BUILD) | grep -v '^ninja: no work to do' || true
	@test -x $(BUILD)/tempest

run: build
	@scripts/run-instance.sh $(CURDIR)/run $(CURDIR)/$(BUILD)/tempest

unit: deps-test build
	meson test -C $(BUILD) --print-errorlogs --suite unit

e2e: deps-test build
	TEMPEST_BIN=$(CURDIR)/$(BUILD)/tempest $(PYTHON) -m pytest -q tests

test: deps-test build
	meson test -C $(BUILD) --print-errorlogs --suite unit
	TEMPEST_BIN=$(CURDIR)/$(BUILD)/tempest $(PYTHON) -m pytest -q -p no:cacheprovider tests

asan:
	$(MAKE) test BUILD=build-asan MESON_ARGS="-Db_sanitize=address,undefined -Db_lundef=false -Dwerror=false -Dc_args=-fno-sanitize-recover=undefined" ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

fuzz: deps
	@scripts/fuzz.sh

bench: build
	@scripts/bootstrap.sh bench
	@bench/run.sh

clean:
	rm -rf build build-asan build-fuzz
