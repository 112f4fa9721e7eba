# Yizhan's front door: a thin layer over meson/ninja and the scripts in scripts/.
#   make run             install what is missing, build, load the demo city on first start, serve :8080
#   make test            the whole suite as CI runs it; ends with "N passed, N failed"   (docs/testing.md)
#   make check-sanitize  the unit suite under ASan+UBSan (build-san), with and without PostgreSQL
#   make lint            formatting, banned functions, script syntax
#   make fuzz            longer libFuzzer runs (FUZZ_TIME seconds per target, default 300)
#   make bench           install what is missing, then the benchmarks (bench/run)
#   make build | clean

BUILD     ?= build
LISTEN    ?= 127.0.0.1:8080
DATA      ?= var
FUZZ_TIME ?= 300

.PHONY: all run deps build test check-sanitize lint fuzz bench clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: $(BUILD)/build.ninja
	@ninja -C $(BUILD)

run: deps build
	@if [ ! -e $(DATA)/yizhan.db ]; then \
		echo "make run: first start, loading the demo city into $(DATA)/"; \
		$(BUILD)/yizhan init --pack demo-city --data $(DATA) || exit 1; \
	fi
	exec $(BUILD)/yizhan serve --data $(DATA) --listen $(LISTEN)

test:
	@scripts/test

check-sanitize:
	@scripts/check-sanitize

lint:
	@scripts/lint

fuzz:
	@scripts/fuzz-smoke --time $(FUZZ_TIME) --keep-corpus

bench: deps
	@if [ -x bench/run ]; then exec bench/run; else echo "make bench: bench/run does not exist yet; nothing to run"; fi

# Build outputs only: var/ (your data) and tests/e2e/node_modules are kept.
clean:
	rm -rf $(BUILD) build-san build-fuzz
