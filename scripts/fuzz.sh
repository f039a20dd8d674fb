#!/usr/bin/env bash
# fuzz.sh [TARGET_REGEX] — runs every fuzz target of the module (each
# `func FuzzX` in a _test.go file) for FUZZTIME (default 5m), or those whose
# name matches TARGET_REGEX, one after another, and says which failed.
#
#   FUZZTIME=30s scripts/fuzz.sh          # all of them, briefly
#   scripts/fuzz.sh 'FuzzRead|FuzzImages'
#
# A new input is minimized for at most FUZZMINIMIZE executions (default
# 100x): the engine's default, a minute per input, had the image targets
# minimizing their 10–16 KB photo seeds for the whole run.
#
# With Go before 1.27, a run can end in a bare "context deadline exceeded"
# when its time is up: the fuzzing coordinator's shutdown race
# (go.dev/issue/75804). Such a run wrote no failing input and is counted as
# passed, with a note; a run that wrote one ("Failing input written to …")
# or failed otherwise is a finding.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
fuzztime=${FUZZTIME:-5m}
minimize=${FUZZMINIMIZE:-100x}
pattern=${1:-.}

failed=()
ran=0
while IFS=: read -r file target; do
	[[ $target =~ $pattern ]] || continue
	pkg=./$(dirname "${file#./}")
	ran=$((ran + 1))
	echo "== $pkg $target ($fuzztime)"
	out=$(go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" 2>&1)
	rc=$?
	if ((rc == 0)); then
		grep -E '^fuzz: elapsed' <<<"$out" | tail -n 1
		continue
	fi
	if grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
		grep -E '^fuzz: elapsed' <<<"$out" | tail -n 1
		echo "   (ended in the coordinator's shutdown race, go.dev/issue/75804; no failing input: passed)"
		continue
	fi
	echo "$out"
	failed+=("$pkg $target")
done < <(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | sed 's/:func /:/' | sort)

if ((ran == 0)); then
	echo "fuzz.sh: no fuzz target matches $pattern" >&2
	exit 2
fi
if ((${#failed[@]})); then
	printf 'fuzz.sh: failed: %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "fuzz.sh: $ran targets passed"
