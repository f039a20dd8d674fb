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

# Each fuzz target for FUZZTIME (default 5 minutes). A new input is
# minimized for at most FUZZMINIMIZE executions: by default the engine spends
# up to a minute per input, and on the image targets, whose seeds are real
# photos of 10–16 KB, that left FuzzRead at a handful of executions in 15 s
# (11,000 a second with the bound). With Go 1.26 a run can end in a bare
# "context deadline exceeded" and no crasher: that is the fuzzing
# coordinator's shutdown race (go.dev/issue/75804, fixed in Go 1.27), not a
# finding.
FUZZTIME ?= 5m
FUZZMINIMIZE ?= 100x
fuzz:
	for t in FuzzDecodeBase45 FuzzDecompress FuzzParseSign1 FuzzDecodeCBOR FuzzReplacePayload FuzzMatchVersion FuzzFastPaths FuzzVerifyES256; do \
		go test ./hcert -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) || exit 1; done
	for t in FuzzVerifyText FuzzVerifyFrame; do \
		go test ./verifier -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) || exit 1; done
	for t in FuzzRead FuzzRSCorrect FuzzDecodeSoft; do \
		go test ./qrscan -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) || exit 1; done
	go test ./pdfimage -run '^$$' -fuzz '^FuzzImages$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE)
	go test ./didtrust -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE)
	for t in FuzzParseDocument FuzzParseCertificate FuzzDecodeSnapshot FuzzParsePublicKey; do \
		go test ./trustlist -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) || exit 1; done
	for t in FuzzParseRequest FuzzTransliterate; do \
		go test ./issuer -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) || exit 1; done
	go test ./auth -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE)
	go test ./trustlist-sync -run '^$$' -fuzz '^FuzzCheck$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE)
	for t in FuzzEvaluate FuzzParseRule; do \
		go test ./certlogic -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) || exit 1; done
	go test ./trustlist -run '^$$' -fuzz '^FuzzParseRevocationDoc$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE)
	for t in FuzzParseDeviceKey FuzzOpenCertificate; do \
		go test ./wallet -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) || exit 1; done

bench:
	go test ./verifier -run '^$$' -bench . -benchtime 3s -count 5
	go test ./issuer -run '^$$' -bench . -benchtime 3s -count 3 -cpu 2
	go test ./trustlist-sync -run '^$$' -bench Sync10k -benchtime 3x
	go test ./server -run '^$$' -bench 'Revalidation|PickupPolling' -benchtime 2s -count 3
	go test ./qrscan -run '^$$' -bench ScanPhotos -benchtime 52x -count 3
