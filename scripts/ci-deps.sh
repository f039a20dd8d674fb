#!/usr/bin/env bash
# Installs the Debian packages the test suite uses when they are missing:
# zbar-tools and ghostscript (the issued PNG and PDF must scan with zbarimg),
# chromium and chromium-driver (the checkpoint page's browser test). Tests
# that need a missing tool skip with a message, so a machine without apt
# still runs the rest.
set -uo pipefail
need=()
command -v zbarimg >/dev/null || need+=(zbar-tools)
command -v gs >/dev/null || need+=(ghostscript)
command -v chromium >/dev/null || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
	echo "ci-deps: cannot install ${need[*]} (no apt-get or not root); the tests that need them will skip" >&2
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
	{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null 2>&1; } ||
	echo "ci-deps: installing ${need[*]} failed; the tests that need them will skip" >&2
exit 0
