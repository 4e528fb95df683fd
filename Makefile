# Two commands: `make run` (set up, build, run the main job) and `make test`
# (set up, build, run the whole suite twice: normal build and ASan+UBSan).
# `make` alone builds everything into build/.

JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
CMAKE_FLAGS ?=

.PHONY: all build setup run test test-fast test-asan bench clean format fuzz

all: build

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DRT_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Installs system packages (idempotent) and the models (checksummed).
setup:
	@bash scripts/bootstrap
	@if [ -x scripts/fetch-models ]; then bash scripts/fetch-models; fi

run: setup build
	@bash scripts/run-main

# Two test programs share the two cores: OpenMP threads that spin while
# waiting would steal them from each other.
TEST_ENV = OMP_WAIT_POLICY=passive

test: setup
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && $(TEST_ENV) ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory test-asan

test-fast: build
	cd $(BUILD) && $(TEST_ENV) ctest --output-on-failure -j $(JOBS)

test-asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DRT_WERROR=ON -DRT_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && $(TEST_ENV) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) -LE no-sanitizer

bench: build
	@bash bench/run

fuzz:
	@bash tests/fuzz/run

format:
	@find src include tests bench -name '*.[ch]' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
