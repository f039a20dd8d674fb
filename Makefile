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

# The release build (also the Dockerfile's and the bench scripts'). The tag
# leaves out Google Cloud Storage's DirectPath gRPC balancers (xDS, RLS),
# which gs:// over the JSON API never uses: a process starts 12 ms sooner
# (68 → 56 ms of CPU here) and the binary is 19 MB smaller. Without it
# (go run, go test) everything works the same.
BUILD_TAGS = disable_grpc_modules

build:
	go build -tags $(BUILD_TAGS) -o greenpass ./cmd/greenpass

# Every fuzz target for FUZZTIME (default 5 minutes); scripts/fuzz.sh says
# how inputs are minimized and which failures are Go's, not findings.
FUZZTIME ?= 5m
fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

bench:
	go test ./verifier -run '^$$' -bench . -benchtime 3s -count 5
	go test ./issuer -run '^$$' -bench . -benchtime 3s -count 3 -cpu 2
	go test ./trustlist-sync -run '^$$' -bench Sync10k -benchtime 3x
	go test ./server -run '^$$' -bench 'Revalidation|PickupPolling|IssueAdmission' -benchtime 2s -count 3
	go test ./qrscan -run '^$$' -bench 'ScanPhotos|DecodePNG|FindPatterns' -benchtime 52x -count 3
