#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what cxxvm needs on a Debian bookworm host: the build tools, the
# stock 6.1 and 6.12 kernel images and headers (guests and build targets),
# qemu, and virtme-ng alone from trixie (the suite is added with pin
# priority 100, so nothing else is taken from it).  Idempotent: does nothing
# when all is present.
#
# sid's 7.2 kernel is not installed: sid-kernel.sh fetches and unpacks it
# into a cache of its own.
set -euo pipefail

log() { printf '[cxxvm] %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
	log "host-setup: must run as root (apt-get install)"
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# iproute2 and a poweroff command are what vng's guest init (virtme-init,
# run from the host's own root) calls: without poweroff, init exits and the
# guest kernel panics after the tests.
base_pkgs=(build-essential bc bison flex libelf-dev libssl-dev dwarves kmod
	   cpio zstd xz-utils python3 qemu-system-x86 busybox-static iproute2
	   linux-image-amd64 linux-headers-amd64 linux-source-6.1 libgtest-dev
	   clang libclang-rt-14-dev valgrind python3-matplotlib spin
	   erofs-utils f2fs-tools xfsprogs bindfs)  # the last four: guest-real.sh
command -v poweroff >/dev/null || base_pkgs+=(systemd-sysv)

trixie_src=/etc/apt/sources.list.d/cxxvm-trixie.sources
trixie_pin=/etc/apt/preferences.d/cxxvm-trixie
if [ ! -f "$trixie_src" ]; then
	log "adding Debian trixie to apt sources (pin priority 100, for virtme-ng only)"
	cat >"$trixie_src" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	cat >"$trixie_pin" <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
	need_update=1
fi

stamp=/var/lib/apt/periodic/cxxvm-update-stamp
if [ -n "${need_update:-}" ] || [ ! -f "$stamp" ] ||
   [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
	log "apt-get update"
	apt-get update -qq >&2
	mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi

# Newest 6.12 flavour in bookworm-security (there is no metapackage for it).
rel612=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' |
	 awk '{print $1}' | sed 's/^linux-image-//' | sort -V | tail -n1)
if [ -z "$rel612" ]; then
	log "no linux-image-6.12.*+deb12-amd64 in the apt lists"
	exit 1
fi

missing=()
for p in "${base_pkgs[@]}" "linux-image-$rel612" "linux-headers-$rel612"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	log "installing: ${missing[*]}"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
# virtme-ng/trixie selects trixie's version of that one package; its
# dependencies resolve at their normal priorities, i.e. from bookworm.
# (Never "-t trixie": that raises every trixie package to priority 990 for
# the transaction and upgrades glibc, udev and more along the way.)  The
# dry run refuses anything else that would come from Debian 13.
if ! command -v vng >/dev/null; then
	log "installing virtme-ng from trixie (its dependencies from bookworm)"
	plan=$(apt-get install -s --no-install-recommends virtme-ng/trixie)
	# A version that is in both suites is listed with both labels.
	others=$(printf '%s\n' "$plan" | grep '^Inst ' | grep 'Debian:13' |
		 grep -v 'Debian:12' | grep -v '^Inst virtme-ng ' || true)
	if [ -n "$others" ]; then
		log "refusing: installing virtme-ng would take more from trixie:"
		printf '%s\n' "$others" >&2
		exit 1
	fi
	apt-get install -y -qq --no-install-recommends virtme-ng/trixie >&2
fi
