#!/usr/bin/env bash
# Verification against its crypto floor: BenchmarkVerifyHC1 (the whole
# verification of an EU ES256 vector) next to a bare ecdsa.Verify and a bare
# ecdsa.VerifyASN1 of the same signature with the same key, in alternating
# rounds (one run of each per round: on a shared machine the speed drifts by
# more than the difference measured). Prints benchstat's summary and the
# median of the per-round ratios.
#   scripts/bench-verify.sh [--rounds 10] [--benchtime 2s]
# benchstat is golang.org/x/perf/cmd/benchstat, fetched by `go run` (set
# BENCHSTAT to a binary to use that instead; the ratios need neither).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=10 benchtime=2s
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--benchtime) benchtime=$2; shift 2 ;;
	*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
done
bin=$(mktemp) out=$(mktemp)
trap 'rm -f "$bin" "$out"' EXIT
go test -c -o "$bin" ./verifier
for i in $(seq "$rounds"); do
	for b in VerifyHC1 ECDSAVerify ECDSAVerifyASN1; do
		(cd verifier && "$bin" -test.run '^$' -test.bench "^Benchmark$b\$" -test.benchtime "$benchtime" -test.benchmem) |
			grep '^Benchmark' | tee -a "$out" >&2
	done
	echo "round $i of $rounds done" >&2
done
benchstat=${BENCHSTAT:-go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da}
$benchstat "$out" || echo "(benchstat unavailable; ratios below)"
# Per-round ratios: each VerifyHC1 run against the floor runs of its round.
awk '
	$1 ~ /^BenchmarkVerifyHC1/       { hc1[++n] = $3 }
	$1 ~ /^BenchmarkECDSAVerify-/    { big[n] = $3 }
	$1 ~ /^BenchmarkECDSAVerifyASN1/ { der[n] = $3 }
	END {
		for (i = 1; i <= n; i++) { r1[i] = hc1[i] / big[i]; r2[i] = hc1[i] / der[i] }
		printf "VerifyHC1 / ECDSAVerify      median %.3f (rounds: %s)\n", median(r1, n), list(r1, n)
		printf "VerifyHC1 / ECDSAVerifyASN1  median %.3f (rounds: %s)\n", median(r2, n), list(r2, n)
	}
	function median(a, n,   s, i, j, t) {
		for (i = 1; i <= n; i++) s[i] = a[i]
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (s[j] < s[i]) { t = s[i]; s[i] = s[j]; s[j] = t }
		return n % 2 ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2
	}
	function list(a, n,   i, s) { for (i = 1; i <= n; i++) s = s sprintf("%s%.3f", i > 1 ? " " : "", a[i]); return s }
' "$out"
