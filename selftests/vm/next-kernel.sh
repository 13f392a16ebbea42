#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# next-kernel.sh: compile cxxvm.ko and cxxvm_kunit.ko against the newest
# kernel line Debian packages (sid's linux-source-7.2 by default), where
# the memremap API has changed: get_dev_pagemap() has no hint and
# dev_pagemap_ops has folio_free.  Compile only (no Module.symvers, no
# boot): it proves the sources build there without a warning and that the
# feature probes pick the new forms.
#
# The source package is fetched with apt into a private state directory
# (the host's apt sources are not touched) and the configured tree is
# cached in $CXXVM_CACHE (default /var/cache/cxxvm), keyed by version.
#
#   CXXVM_NEXT_SOURCE=linux-source-7.2   the source package to use
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pkg=${CXXVM_NEXT_SOURCE:-linux-source-7.2}
cache=${CXXVM_CACHE:-/var/cache/cxxvm}
apt_dir=$cache/sid-apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
exec 9>"$cache/.next-lock"
flock 9

echo "deb http://deb.debian.org/debian sid main" >"$apt_dir/sid.list"
# Valid-Until is not checked for this private list: an archive mirror or
# snapshot frozen in time serves a sid Release file past its date, and the
# package is only compiled against, never installed.
apt_opts=(-o Dir::Etc::sourcelist="$apt_dir/sid.list" -o Dir::Etc::sourceparts=/dev/null
	  -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache::archives="$apt_dir/archives"
	  -o APT::Sandbox::User=root -o Acquire::Check-Valid-Until=false)
log "next kernel: reading sid's package list for $pkg"
apt-get "${apt_opts[@]}" -qq update >/dev/null || die "apt-get update (sid) failed"
ver=$(apt-cache "${apt_opts[@]}" policy "$pkg" | sed -n 's/^ *Candidate: //p')
[ -n "$ver" ] && [ "$ver" != "(none)" ] || die "sid has no $pkg"
tree=$cache/next-kernel-$pkg-$ver

if [ ! -f "$tree/.cxxvm-prepared" ]; then
	log "next kernel: fetching $pkg $ver and preparing a defconfig tree (about a minute)"
	rm -rf "$tree" "$tree.tmp"
	mkdir -p "$tree.tmp"
	(cd "$apt_dir" && apt-get "${apt_opts[@]}" -qq download "$pkg=$ver") ||
		die "apt-get download $pkg failed"
	deb=$(ls "$apt_dir/${pkg}_"*.deb | head -n1)
	dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards '*/linux-source-*.tar.xz' |
		tar -xJ -C "$tree.tmp" --strip-components=1
	rm -f "$deb"
	make -s -C "$tree.tmp" defconfig >/dev/null
	"$tree.tmp/scripts/config" --file "$tree.tmp/.config" -e MEMORY_HOTPLUG \
		-e MEMORY_HOTREMOVE -e SPARSEMEM_VMEMMAP -e ZONE_DEVICE -e DEVICE_PRIVATE \
		-e MIGRATION -e KUNIT
	make -s -C "$tree.tmp" olddefconfig >/dev/null
	make -s -C "$tree.tmp" -j"$(nproc)" modules_prepare >"$tree.tmp/prepare.log" 2>&1 ||
		{ tail -20 "$tree.tmp/prepare.log" >&2; die "modules_prepare failed"; }
	touch "$tree.tmp/.cxxvm-prepared"
	mv "$tree.tmp" "$tree"
fi

dir=$CXXVM_BUILD/next-kernel
rm -rf "$dir"
copy_sources "$dir"
cp -a "$CXXVM_TOP/selftests/kunit" "$dir/kunit"
log "next kernel: compiling cxxvm.ko and cxxvm_kunit.ko against $pkg $ver (no modpost)"
fail=0
for sub in "$dir" "$dir/kunit"; do
	# Without the kernel's Module.symvers every import is "undefined":
	# modpost only warns (KBUILD_MODPOST_WARN), and only the compilers'
	# diagnostics count here.
	make -C "$tree" M="$sub" cxxvm_top="$dir" KBUILD_MODPOST_WARN=1 modules \
		>"$sub/build.log" 2>&1 || { cat "$sub/build.log" >&2; fail=1; }
	if grep -vE 'modpost|Module\.symvers|unresolved symbol|KBUILD_MODPOST_WARN' "$sub/build.log" |
	   grep -iE 'warning:|error' >&2; then
		fail=1
	fi
done
probes=$dir/module/cxxvm_probes.h
for want in GET_DEV_PAGEMAP_PFN_ONLY PAGEMAP_FOLIO_FREE; do
	if ! grep -q "^#define CXXVM_HAVE_$want 1" "$probes"; then
		log "next kernel: the probes did not find $want:"
		cat "$probes" >&2
		fail=1
	fi
done
[ "$fail" -eq 0 ] || die "next kernel: build against $pkg $ver failed (see above)"
log "next kernel: clean build; probes: $(grep -c '^#define' "$probes") new forms found"
