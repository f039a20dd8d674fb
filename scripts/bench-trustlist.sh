#!/usr/bin/env bash
# Throughput of the trust-list endpoints: greenpass (the application as
# served) against a plain net/http handler serving the same bytes on an
# http.Server with the same timeouts, for full downloads (200) and
# revalidations (304). Needs wrk (Debian: wrk).
# The servers run on CPU 0 and wrk on CPU 1 (taskset), and the two are
# measured in alternating rounds, medians reported: on a shared machine the
# speed drifts by more than the difference being measured.
#   scripts/bench-trustlist.sh [--dscs N] [--duration 5s] [--rounds 5] [--connections 64]
set -euo pipefail
cd "$(dirname "$0")/.."
dscs=1000 duration=5s conns=64 rounds=5
while [ $# -gt 0 ]; do
	case $1 in
	--dscs) dscs=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--connections) conns=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
done
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
go build -o /tmp/benchtrust ./scripts/benchtrust
out=$(mktemp)
taskset -c 0 /tmp/benchtrust --dscs "$dscs" >"$out" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q bytes-status "$out" && break; sleep 0.1; done
val() { awk -v k="$1" '$1==k {print $2}' "$out"; }
gp=$(val greenpass) plain=$(val plain)
echo "list: $dscs DSCs, /trustList/DSC/ $(val bytes-dsc) bytes, /signercertificateStatus $(val bytes-status) bytes"
echo "servers on CPU 0, wrk -t1 -c$conns -d$duration on CPU 1, median of $rounds alternating rounds (requests/s)"
printf '%-28s %-6s %12s %12s %7s\n' endpoint status greenpass plain ratio
rate() { taskset -c 1 wrk -t1 -c"$conns" -d"$duration" "$@" | awk '/Requests\/sec/ {print $2}'; }
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
for path in /trustList/DSC/ /signercertificateStatus; do
	etag=$(val etag-dsc); [ "$path" = /signercertificateStatus ] && etag=$(val etag-status)
	for status in 200 304; do
		hdr=()
		[ $status = 304 ] && hdr=(-H "If-None-Match: $etag")
		as=() bs=()
		for i in $(seq "$rounds"); do
			# Who goes first alternates too: the machine drifts within a round.
			if [ $((i % 2)) = 0 ]; then
				bs+=("$(rate "${hdr[@]}" "$plain$path")")
				as+=("$(rate "${hdr[@]}" "$gp$path")")
			else
				as+=("$(rate "${hdr[@]}" "$gp$path")")
				bs+=("$(rate "${hdr[@]}" "$plain$path")")
			fi
		done
		a=$(printf '%s\n' "${as[@]}" | median)
		b=$(printf '%s\n' "${bs[@]}" | median)
		printf '%-28s %-6s %12s %12s %7.2f\n' "$path" $status "$a" "$b" "$(echo "$a / $b" | bc -l)"
	done
done
