#!/usr/bin/env bash
# Plays the checkpoint attacks of issue 18 against a real server on
# loopback and prints what each caller got, the process's peak memory,
# and whether a genuine certificate still verifies:
#   1. eight 310 KB PNGs declaring 6320×6320 pixels of 16-bit RGBA at once;
#   2. eight uploads trickling at 2 KB/s, with genuine scans meanwhile.
# Usage: scripts/attack-checkpoint.sh [PORT]   (needs curl and python3)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
port=${1:-18443}
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
if curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; then
	echo "something already answers on port $port" >&2
	exit 2
fi
(cd "$here" && go build -tags disable_grpc_modules -o "$tmp/greenpass" ./cmd/greenpass)
python3 - "$tmp/bomb.png" <<'PY'
import struct, sys, zlib
w = h = 6320
def chunk(t, d):
    return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
c = zlib.compressobj(9)
row = b'\0' * (1 + w * 8)
idat = b''.join(c.compress(row) for _ in range(h)) + c.flush()
open(sys.argv[1], 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 16, 6, 0, 0, 0))
                               + chunk(b'IDAT', idat) + chunk(b'IEND', b''))
PY
head -c 300000 /dev/urandom > "$tmp/slow.bin"
"$tmp/greenpass" serve --addr "127.0.0.1:$port" --data "$tmp/data" --log-level warn 2>"$tmp/serve.log" &
pid=$!
until curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; do sleep 0.2; done
token=$("$tmp/greenpass" keys issuer-token --data "$tmp/data" --sub attack-test)
"$tmp/greenpass" issue --example v > "$tmp/request.json"
"$tmp/greenpass" issue --url "http://127.0.0.1:$port" --token "$token" --request "$tmp/request.json" --format png --out "$tmp/genuine.png"
genuine() {
	curl -s -o /dev/null -w '%{http_code} in %{time_total}s' -H 'Content-Type: image/png' --data-binary @"$tmp/genuine.png" "http://127.0.0.1:$port/api/v1/verify"
}
rss() { awk '/VmRSS|VmHWM/ {printf "%s %d MB  ", $1, $2/1024}' /proc/$pid/status; echo; }

echo "== before: $(rss)"
echo "== 1. eight decompression bombs at once"
for i in 1 2 3 4 5 6 7 8; do
	curl -s -o /dev/null -w "bomb $i: %{http_code} in %{time_total}s\n" -H 'Content-Type: image/png' \
		--data-binary @"$tmp/bomb.png" "http://127.0.0.1:$port/api/v1/verify" &
done
wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
echo "memory: $(rss)"
echo "genuine scan right after: $(genuine)"

echo "== 2. eight uploads at 2 KB/s"
for i in 1 2 3 4 5 6 7 8; do
	curl -s -o /dev/null -w "slow $i: %{http_code} in %{time_total}s\n" --limit-rate 2k -H 'Content-Type: image/png' \
		--data-binary @"$tmp/slow.bin" "http://127.0.0.1:$port/api/v1/verify" > "$tmp/slow$i.txt" &
done
sleep 2
for i in 1 2 3 4 5; do echo "genuine scan while they trickle: $(genuine)"; sleep 1; done
wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
cat "$tmp"/slow*.txt
echo "memory: $(rss)"
