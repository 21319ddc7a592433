#!/bin/sh
# Install the build and test dependencies that are missing (Debian/Ubuntu).
# As root: apt-get installs them. Otherwise: prints the exact command to run.
# Build: gcc make pkg-config libpcap-dev libncurses-dev libpsl-dev libssl-dev
# Test:  tshark tcpdump python3 tmux swaks python3-aiosmtpd openssl (the CLI: tests/tls/make_expect.py) clang libclang-rt-14-dev
#        (libFuzzer and the sanitizer runtimes) valgrind time gzip tcpreplay iproute2
set -u
PKGS="gcc make pkg-config libpcap-dev libncurses-dev libpsl-dev libssl-dev python3 tshark tcpdump tmux swaks python3-aiosmtpd openssl clang libclang-rt-14-dev valgrind time gzip tcpreplay iproute2"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
	echo "smtpscope: missing packages:$missing (no apt-get here; install them with your package manager)" >&2
	exit 1
fi
cmd="DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "smtpscope: missing packages; run as root:" >&2
	echo "  apt-get update && $cmd" >&2
	exit 1
fi
echo "smtpscope: installing:$missing" >&2
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
apt-get update -qq >/dev/null 2>&1 || apt-get update
env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
	env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
