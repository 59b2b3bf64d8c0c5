# overhear: the two commands a fresh clone needs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
CONFIG ?= config/overhear.toml

.PHONY: setup build release test lint run bench clean-libtorch

## setup: provision libtorch 2.4.0 from PyPI into .libtorch/ (idempotent)
setup:
	@scripts/libtorch.sh >/dev/null

## build: debug build
build: setup
	$(CARGO) build

release: setup
	$(CARGO) build --release

## test: every unit and integration test, then what was skipped and why (a test
## whose server or tool is missing here: nats-server, chromium, strace) with the
## count; the exit status is cargo's
test: setup
	@target="$${CARGO_TARGET_DIR:-target}"; mkdir -p "$$target"; \
	skips="$$(cd "$$target" && pwd)/skipped-tests.txt"; : > "$$skips"; \
	OVERHEAR_SKIP_LOG="$$skips" $(CARGO) test --all-targets; rc=$$?; \
	n=$$(wc -l < "$$skips"); \
	if [ "$$n" -eq 0 ]; then \
	  echo "== make test: nothing was skipped"; \
	else \
	  echo "== make test: $$n test(s) skipped or run in part here (listed in $$skips):"; \
	  sort "$$skips" | sed 's/^/   /'; \
	fi; \
	exit $$rc

## lint: formatting and clippy, as CI runs them
lint: setup
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

## run: the daemon on config/overhear.toml (file mail transport, data in ./data)
run: release
	./target/release/overhear run --config $(CONFIG)

bench: setup
	$(CARGO) bench

clean-libtorch:
	rm -rf .libtorch
	$(CARGO) clean -p torch-sys
