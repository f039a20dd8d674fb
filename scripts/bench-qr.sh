#!/usr/bin/env bash
# bench-qr.sh [CORPUS_DIR] — per class of a photo corpus: images, decoded by
# greenpass, decoded by zbarimg, CPU milliseconds per image for each (both run
# as one process per class on the same files; CPU from the child's rusage).
#
#   scripts/bench-qr.sh                       # ../shared/testdata/photos
#   scripts/bench-qr.sh --fresh [N]           # N new DCC QR codes through shared/tools/make-photos.sh
#   scripts/bench-qr.sh --fresh-mix [N]       # the same, varied as other issuers' codes are (benchqr render -mix)
#
# Needs: go, zbarimg (Debian: zbar-tools); --fresh also ImageMagick. Installs nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
missing=()
command -v go >/dev/null || missing+=("go (the Go toolchain)")
command -v zbarimg >/dev/null || missing+=("zbarimg (Debian package zbar-tools)")
if [[ ${1:-} == --fresh || ${1:-} == --fresh-mix ]]; then
	command -v convert >/dev/null || command -v magick >/dev/null || missing+=("ImageMagick (Debian package imagemagick)")
fi
if ((${#missing[@]})); then
	printf 'bench-qr.sh: missing: %s\n' "${missing[@]}" >&2
	exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$here" && go build -tags disable_grpc_modules -o "$tmp/greenpass" ./cmd/greenpass && go build -o "$tmp/benchqr" ./scripts/benchqr)
corpus=${1:-$here/../shared/testdata/photos}
if [[ ${1:-} == --fresh || ${1:-} == --fresh-mix ]]; then
	mix=()
	[[ $1 == --fresh-mix ]] && mix=(-mix)
	"$tmp/benchqr" render "${mix[@]}" -n "${2:-30}" "$tmp/src"
	bash "$here/../shared/tools/make-photos.sh" "$tmp/corpus" "$tmp/src" >/dev/null
	cp "$tmp/src/expected.tsv" "$tmp/corpus/expected.tsv"
	corpus=$tmp/corpus
fi
"$tmp/benchqr" compare -greenpass "$tmp/greenpass" "$corpus"
