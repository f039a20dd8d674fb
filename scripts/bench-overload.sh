#!/usr/bin/env bash
# Issuance under overload: certificates per second at the peak (N clients
# retrying at once, and N clients honouring Retry-After) against ten times
# as many clients honouring Retry-After, with the 201 and 503 latencies at
# the client. Every run gets a fresh embedded store (durable writes) and
# server; the generator shares the machine. The three loads are measured
# in rotating order, round after round, and each round's overload goodput
# is compared with the better of that round's two peaks: on a shared
# machine the speed drifts by more than the difference being measured.
# Consecutive runs use four ports in turn, so that no run connects to the
# port whose thousands of connections the run before it just closed (they
# stay in TIME_WAIT for a minute).
# With --open 4,10 the overload is open-loop instead (clients that retry
# at once, whatever Retry-After says): after each round's peak, requests
# at 4× and 10× that peak's rate are offered on factor × N connections,
# none honouring Retry-After, and the goodput is compared with that peak.
# --pin runs the server on CPU 0 and the generator on CPU 1 (taskset), so
# that an open loop of tens of thousands of requests a second does not
# take the server's cores. --open-honour makes the open loops' clients
# honour Retry-After (a refused client sends nothing until it passed).
# Needs jq.
#   scripts/bench-overload.sh [--rounds 5] [--duration 15s] [--warmup 3s]
#       [--clients 256] [--overload 10 | --open 4,10 [--open-honour]] [--pin]
#       [--port 8099 (and the next three)] [-- extra serve flags]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=5 duration=15s warmup=3s clients=256 factor=10 port=8099 open="" pin="" openflags=""
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--warmup) warmup=$2; shift 2 ;;
	--clients) clients=$2; shift 2 ;;
	--overload) factor=$2; shift 2 ;;
	--open) open=${2//,/ }; shift 2 ;;
	--pin) pin=1; shift ;;
	--open-honour) openflags=--honor-retry-after; shift ;;
	--port) port=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
done
command -v jq >/dev/null || { echo "jq is not installed (apt-get install jq)" >&2; exit 2; }
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$bin"' EXIT
go build -tags disable_grpc_modules -o "$bin/greenpass" ./cmd/greenpass
gp=$bin/greenpass

# run NAME CLIENTS PORT [serve flags]: one measurement on a fresh server;
# prints "NAME created/s 201-p99-ms 503s 503-p99-ms other-statuses".
run() {
	local name=$1 n=$2 p=$3 data=$bin/data
	local url=http://127.0.0.1:$p
	shift 3
	rm -rf "$data" && mkdir "$data"
	if curl -s -o /dev/null "$url/healthz"; then
		echo "something already answers on port $p (--port to choose others)" >&2
		exit 1
	fi
	"$gp" keys init --data "$data" >/dev/null 2>&1
	local tok
	tok=$("$gp" keys issuer-token --data "$data" --sub bench --country DE --roles issue:v --ttl 1h)
	$serverCPU "$gp" serve --data "$data" --addr 127.0.0.1:$p --issuer-rate 0 "$@" >"$data/serve.log" 2>&1 &
	local pid=$! up=
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		curl -sf "$url/healthz" >/dev/null 2>&1 && { up=1; break; }
		sleep 0.1
	done
	if [ -z "$up" ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "the server did not start on port $p (--port to choose others):" >&2
		tail -5 "$data/serve.log" >&2
		exit 1
	fi
	$loadCPU "$gp" loadtest issue --url "$url" --token "$tok" --concurrency "$n" --duration "$duration" \
		--warmup "$warmup" --quiet --json $loadflags >"$data/report.json"
	kill "$pid"; wait "$pid" 2>/dev/null || true
	jq -r --arg name "$name" '[$name, (.createdPerSecond|floor),
		((.latencyByStatus["201"].p99 // 0)/1e6*10|floor/10),
		(.statuses["503"] // 0), ((.latencyByStatus["503"].p99 // 0)/1e6*10|floor/10),
		([.statuses|to_entries[]|select(.key!="201" and .key!="503")|"\(.key):\(.value)"]
			+ [.errors|to_entries[]|"\(.key):\(.value)"] + (if .missed > 0 then ["missed:\(.missed)"] else [] end)
			| join(",") | gsub(" ";"_") | if .=="" then "-" else . end)] | @tsv' \
		"$data/report.json"
}

serverCPU="" loadCPU=""
if [ -n "$pin" ]; then
	serverCPU="taskset -c 0" loadCPU="taskset -c 1"
fi
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
if [ -n "$open" ]; then
	echo "issuance: the peak of $clients clients retrying at once, then open loops at ${open// /×, }× its rate, ${openflags:+honouring Retry-After}${openflags:-retrying at once}; $duration after $warmup, $rounds rounds, pinned: ${pin:-no}, serve flags: ${*:-none}"
	printf '%-5s %-9s %9s %10s %7s %10s %s\n' round load created/s 201-p99ms 503s 503-p99ms other
	results=()
	for i in $(seq "$rounds"); do
		p=$((port + (i * 3) % 4))
		loadflags="" line=$(run peak "$clients" "$p" "$@")
		[ -n "$line" ] || exit 1
		printf '%-5s %-9s %9s %10s %7s %10s %s\n' "$i" $line
		results+=("$i $line")
		peak=$(echo "$line" | awk '{print $2}')
		for f in $open; do
			p=$(((p + 1 - port) % 4 + port))
			loadflags="--rate $((peak * f)) $openflags" line=$(run "open${f}x" "$((clients * f))" "$p" "$@")
			[ -n "$line" ] || exit 1
			printf '%-5s %-9s %9s %10s %7s %10s %s\n' "$i" $line
			results+=("$i $line")
		done
	done
	for f in $open; do
		ratios=$(printf '%s\n' "${results[@]}" | awk -v l="open${f}x" '$2=="peak" {peak[$1]=$3} $2==l {printf "%.3f\n", $3/peak[$1]}')
		echo "goodput at ${f}x open loop / the round's peak: $(echo "$ratios" | awk '{printf "%.0f%% ", $1*100}')median $(echo "$ratios" | median | awk '{printf "%.0f%%", $1*100}')"
	done
	for l in peak $(for f in $open; do echo "open${f}x"; done); do
		c=$(printf '%s\n' "${results[@]}" | awk -v l="$l" '$2==l {print $3}' | median)
		r=$(printf '%s\n' "${results[@]}" | awk -v l="$l" '$2==l {print $5}' | median)
		q=$(printf '%s\n' "${results[@]}" | awk -v l="$l" '$2==l {print $6}' | median)
		echo "median $l: $c created/s, $r 503s, 503 p99 $q ms"
	done
	exit 0
fi

over=$((clients * factor))
echo "issuance: $clients clients (retrying at once; honouring Retry-After) against $over honouring, $duration after $warmup, $rounds rounds, serve flags: ${*:-none}"
printf '%-5s %-9s %9s %10s %7s %10s %s\n' round load created/s 201-p99ms 503s 503-p99ms other
results=()
for i in $(seq "$rounds"); do
	loads=(peak honour over)
	# Who goes first rotates: the machine drifts within a round too.
	for j in 0 1 2; do
		p=$((port + (3 * i + j) % 4))
		case ${loads[$(((i + j) % 3))]} in
		peak) loadflags="" line=$(run peak "$clients" "$p" "$@") ;;
		honour) loadflags=--honor-retry-after line=$(run honour "$clients" "$p" "$@") ;;
		over) loadflags=--honor-retry-after line=$(run "${factor}x" "$over" "$p" "$@") ;;
		esac
		[ -n "$line" ] || exit 1 # run said why
		printf '%-5s %-9s %9s %10s %7s %10s %s\n' "$i" $line
		results+=("$i $line")
	done
done
printf '%s\n' "${results[@]}" | awk -v f="${factor}x" '
	$2=="peak" || $2=="honour" { if ($3 > best[$1]) best[$1] = $3 }
	$2==f { over[$1] = $3 }
	END { for (r in over) printf "%d %.3f\n", r, over[r] / best[r] }' | sort -n >"$bin/ratios"
echo "goodput at ${factor}x / the round's better peak: $(awk '{printf "%.0f%% ", $2*100}' "$bin/ratios")"
echo "median: $(awk '{print $2}' "$bin/ratios" | median | awk '{printf "%.0f%%", $1*100}')"
for l in peak honour "${factor}x"; do
	c=$(printf '%s\n' "${results[@]}" | awk -v l="$l" '$2==l {print $3}' | median)
	p=$(printf '%s\n' "${results[@]}" | awk -v l="$l" '$2==l {print $4}' | median)
	q=$(printf '%s\n' "${results[@]}" | awk -v l="$l" '$2==l {print $6}' | median)
	echo "median $l: $c created/s, 201 p99 $p ms, 503 p99 $q ms"
done
