# The test command of README.md; .ci/run calls exactly this.
.PHONY: test build fuzz bench

# The race detector runs where concurrency lives; every package's tests run
# once without it first (FerretDB, the largest build, only there).
RACE_PKGS = ./admission ./auth ./issuer ./wallet ./server ./store/... ./loadtest \
	./trustlist ./trustlist-sync ./cmd/greenpass

test:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go test ./...
	go test -race $(RACE_PKGS)

build:
	go build -o greenpass ./cmd/greenpass

# Every fuzz target for FUZZTIME (default 5 minutes); scripts/fuzz.sh says
# how inputs are minimized and which failures are Go's, not findings.
FUZZTIME ?= 5m
fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

bench:
	go test ./verifier -run '^$$' -bench . -benchtime 3s -count 5
	go test ./issuer -run '^$$' -bench . -benchtime 3s -count 3 -cpu 2
	go test ./trustlist-sync -run '^$$' -bench Sync10k -benchtime 3x
	go test ./server -run '^$$' -bench 'Revalidation|PickupPolling' -benchtime 2s -count 3
	go test ./qrscan -run '^$$' -bench ScanPhotos -benchtime 52x -count 3
