# Outpost. Run `bash .ci/setup` first on a fresh machine (the README's commands do).
SWIFT ?= swift
DEMO_DIR ?= ./demo-fleet
STORES ?= 2
BASE_PORT ?= 7100

.PHONY: build release run test soak bench image bundle image-test clean

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release

# The demo fleet: a hub and $(STORES) stores in two regions, replicating (see conf/demo/README.md).
# Ctrl-C stops every node gracefully; running it again reuses the data in $(DEMO_DIR).
run: release
	.build/release/nodectl fleet demo --dir $(DEMO_DIR) --stores $(STORES) --base-port $(BASE_PORT)

# The whole suite: unit, HTTP, fuzz and end-to-end tests against the built noded and nodectl.
test:
	$(SWIFT) build --build-tests
	OUTPOST_SCREENSHOTS=$(CURDIR)/.build/screenshots $(SWIFT) test --skip-build

# Longer randomized runs: thousands of simulated fleets and CRDT histories.
soak:
	$(SWIFT) build --build-tests
	SIM_SEEDS=5000 $(SWIFT) test --skip-build --disable-swift-testing --filter SyncSimulationTests
	PROPERTY_CASES=500 $(SWIFT) test --skip-build --disable-xctest --filter CRDTPropertyTests

# noded against references measured in the same run, one table each: nginx serving the same
# bytes (wrk), pycrdt applying the same deltas, nginx and tantivy on the same 100k-product catalog,
# checkouts and completed till sales against a plain SQLite insert loop in the same fsync mode,
# checkouts with three webhook endpoints against none, the hub's ledger transfers
# against the same insert loop batched alike, and the binary and idle memory beside Swift programs
# built in the same run.
bench:
	bash .ci/setup bench
	bash bench/http.sh
	$(SWIFT) build -c release
	.build/tools-venv/bin/python3 bench/sync.py
	.build/tools-venv/bin/python3 bench/catalog.py
	bash bench/checkout.sh
	bash bench/pos.sh
	bash bench/webhooks.sh
	bash bench/backoffice.sh
	python3 bench/startup.py
	bash bench/backup.sh
	.build/release/ledger-bench 6
	bash bench/footprint.sh

# The appliance (firmware-image/README.md): a UEFI disk image with two verity-protected root
# slots and a data partition, in .build/image/ (raw and qcow2); image-test boots it in QEMU.
image:
	bash .ci/setup image
	firmware-image/build image

# A signed RAUC bundle of this version's root slot (development keys unless FIRMWARE_KEYRING,
# FIRMWARE_CERT and FIRMWARE_KEY name the fleet operator's).
bundle:
	bash .ci/setup image
	firmware-image/build bundle

# Boots the image in QEMU as an operator uses a box: provisioning stick, a tampered bundle
# refused, an update, and an update whose noded cannot start rolled back by the box itself.
image-test: image
	IMAGE_VERSION=test-update firmware-image/build bundle
	IMAGE_VERSION=test-broken NODED_BIN=/bin/false NODECTL_BIN=.build/image/bin/nodectl firmware-image/build bundle
	UPDATE_BUNDLE=.build/image/outpost-test-update.raucb BROKEN_BUNDLE=.build/image/outpost-test-broken.raucb firmware-image/test-image

clean:
	rm -rf .build
