# Thin wrapper over CMake/Ninja. `make run` and `make test` set up a fresh Debian 12 machine first.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all build configure setup run run-bochs test bench check fuzz mixed-vms clean

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

# Long fuzz campaign of the vmm's instruction emulator (ctest runs only a short smoke run).
FUZZ_SECONDS ?= 600
fuzz: build
	@$(BUILD)/test/fuzz/fuzz_emulate --seed $${FUZZ_SEED:-$$(date +%s)} --count 18446744073709551615 --seconds $(FUZZ_SECONDS)

# Two Linux VMs, one nested and one shadow, run again and again (qemu.linux_two_vms_mixed;
# MIXED_ARGS=--cpu0 runs the QEMU defect's reproducer: test/repeat-mixed-vms,
# docs/architecture.md "Two Linux VMs").
MIXED_RUNS ?= 10
mixed-vms: setup build
	@test/repeat-mixed-vms $(BUILD) $(MIXED_RUNS) $(MIXED_ARGS)

clean:
	rm -rf $(BUILD)
