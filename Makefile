# Thin wrapper over CMake/Ninja. `make run` and `make test` set up a fresh Debian 12 machine first.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all build configure setup run run-bochs test bench check clean

all: build

configure:
	@cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

setup:
	@scripts/setup

run: setup build
	@scripts/run --emulator qemu $(BUILD)/hv.iso

run-bochs: setup build
	@scripts/run --emulator bochs $(BUILD)/hv.iso

test: setup build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

bench: setup build
	@scripts/bench $(BUILD)

check: build
	@scripts/check $(BUILD)

clean:
	rm -rf $(BUILD)
