#!/bin/sh
# Install everything cnic needs to build, test and benchmark on a fresh
# Debian 12 / Ubuntu machine.  Idempotent; both README commands run it first.
set -eu

PKGS="build-essential pkg-config git
libjson-c-dev libnl-3-dev libmnl-dev libnftnl-dev
libcmocka-dev
iproute2 nftables conntrack iptables jq python3 strace util-linux procps psmisc
golang-go golang-github-appc-cni-dev
containernetworking-plugins
qemu-system-x86 qemu-system-data linux-image-amd64 busybox-static cpio xz-utils zstd
hyperfine valgrind gnuplot-nox bsdextrautils shellcheck clang-format perl
clang libclang-rt-14-dev
podman runc curl
containerd golang-github-containerd-go-cni-dev python3-grpcio python3-grpc-tools
dnsmasq-base iperf3"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: need root to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
