#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared helpers of check.sh and bench.sh (sourced, not run).

CXXVM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CXXVM_BUILD=$CXXVM_TOP/build

log() { printf '[cxxvm] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The stock 6.1 release that linux-image-amd64 points at, e.g. 6.1.0-56-amd64.
stock_61_release() {
	dpkg-query -W -f='${Depends}' linux-image-amd64 |
		sed -n 's/.*linux-image-\(6\.1\.[^ ,]*\).*/\1/p'
}

# copy_sources DIR: the module's sources, copied into DIR (several
# kernels' objects then live side by side, out of the work tree).
copy_sources() {
	mkdir -p "$1"
	cp -a "$CXXVM_TOP/Kbuild" "$CXXVM_TOP/module" "$CXXVM_TOP/cxxrt" \
	      "$CXXVM_TOP/include" "$1/"
}

# kbuild_clean KDIR DIR [MAKE ARGS...]: make modules for the module in DIR
# against the kernel tree KDIR.  Fails on any compiler or modpost warning
# or error (whatever the case), an undefined symbol, or check-ko.sh
# refusing one of the .ko files built.
kbuild_clean() {
	local kdir=$1 dir=$2 ko
	shift 2
	if ! make -C "$kdir" M="$dir" "$@" modules >"$dir/build.log" 2>&1; then
		cat "$dir/build.log" >&2
		die "build of $dir against $kdir failed"
	fi
	if grep -niE 'warning:|undefined!|error' "$dir/build.log" >&2; then
		die "build of $dir against $kdir is not clean (see above)"
	fi
	for ko in "$dir"/*.ko; do
		"$CXXVM_TOP/selftests/vm/check-ko.sh" "$ko" "$kdir/.config" || exit 1
	done
}

# build_ko RELEASE: build cxxvm.ko against /lib/modules/RELEASE/build in
# build/RELEASE and print the .ko path.
build_ko() {
	local rel=$1 kdir=/lib/modules/$1/build dir=$CXXVM_BUILD/$1
	[ -d "$kdir" ] || die "no headers for $rel in $kdir"
	copy_sources "$dir"
	kbuild_clean "$kdir" "$dir"
	echo "$dir/cxxvm.ko"
}

# Console lines that fail a guest run: oopses, warnings, BUGs, lockdep,
# KASAN/UBSAN and kmemleak reports.
CXXVM_BAD_CONSOLE='Oops|WARNING:|BUG:|Kernel panic|general protection fault|Call Trace:|kernel BUG|possible recursive locking|circular locking dependency|inconsistent lock state|possible irq lock inversion|suspicious RCU usage|KASAN:|UBSAN:|unreferenced object|stack-protector'

# vng_run KERNEL_IMAGE CONSOLE_LOG [vng options...] -- COMMAND
# Boots KERNEL_IMAGE under TCG with vng, runs COMMAND as root in the guest
# (the host's filesystem is shared, so built files are used in place), and
# streams its output.  The kernel console goes to CONSOLE_LOG.  Fails if
# the command fails, the guest does not finish in CXXVM_VM_TIMEOUT seconds
# (default 900), or the console shows a line of CXXVM_BAD_CONSOLE.
vng_run() {
	local image=$1 console=$2 opts=() rc=0
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	timeout "${CXXVM_VM_TIMEOUT:-900}" \
		vng --run "$image" --disable-kvm --cpus 2 --memory 2G -v \
		    "${opts[@]}" --exec "$*" </dev/null 2>"$console" || rc=$?
	if grep -nE "$CXXVM_BAD_CONSOLE" "$console" >&2; then
		log "the guest console shows the report above (full log: $console)"
		[ "$rc" -ne 0 ] || rc=125
	fi
	[ "$rc" -ne 124 ] || log "guest timed out after ${CXXVM_VM_TIMEOUT:-900}s"
	return "$rc"
}

# style_check: checkpatch.pl (errors and warnings) and kernel-doc over the
# C sources and C headers, with the scripts from Debian's linux-source-6.1
# (the header packages do not ship them).  Extracted once into build/.
style_check() {
	local tools=$CXXVM_BUILD/kernel-scripts rc=0
	local files=(module/*.c module/*.h include/uapi/linux/cxxvm.h
		     cxxrt/include/cxxrt/runtime.h)
	if [ ! -x "$tools/scripts/checkpatch.pl" ]; then
		mkdir -p "$tools"
		tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$tools" \
		    --strip-components=1 --wildcards '*/scripts/checkpatch.pl' \
		    '*/scripts/spelling.txt' '*/scripts/const_structs.checkpatch' \
		    '*/scripts/kernel-doc' || return 1
	fi
	(cd "$CXXVM_TOP" &&
	 "$tools/scripts/checkpatch.pl" --no-tree --quiet --terse \
		-f "${files[@]}") >&2 || rc=1
	# The selftests generate kselftest fixture variants with a macro that
	# expands to a definition, which cannot be parenthesised.
	(cd "$CXXVM_TOP" &&
	 "$tools/scripts/checkpatch.pl" --no-tree --quiet --terse \
		--ignore COMPLEX_MACRO -f selftests/*.c selftests/kunit/*.c) >&2 || rc=1
	(cd "$CXXVM_TOP" &&
	 "$tools/scripts/kernel-doc" -none "${files[@]}" 2>&1 | grep . >&2) && rc=1
	return $rc
}
