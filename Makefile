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

## test: every unit and integration test
test: setup
	$(CARGO) test --all-targets

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
