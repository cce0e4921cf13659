# Outpost. Run `bash .ci/setup` first on a fresh machine (the README's commands do).
SWIFT ?= swift
DATA_DIR ?= ./data
LISTEN ?= 127.0.0.1:8080

.PHONY: build release run test soak bench clean

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release

# A node on embedded defaults (data in ./data, listening on 127.0.0.1:8080). Ctrl-C stops it.
run: release
	.build/release/noded --data-dir $(DATA_DIR) --listen $(LISTEN)

# The whole suite: unit, HTTP, fuzz and end-to-end tests against the built noded and nodectl.
test:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# Longer randomized runs: thousands of simulated fleets and CRDT histories.
soak:
	$(SWIFT) build --build-tests
	SIM_SEEDS=5000 $(SWIFT) test --skip-build --disable-swift-testing --filter SyncSimulationTests
	PROPERTY_CASES=500 $(SWIFT) test --skip-build --disable-xctest --filter CRDTPropertyTests

# noded against nginx serving the same bytes, with wrk; prints one table.
bench:
	bash .ci/setup bench
	bash bench/http.sh

clean:
	rm -rf .build
