#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test-kernel.sh [LINE]: build cxxvm's KUnit test kernel (KASAN, lockdep,
# kmemleak, DEVICE_PRIVATE) from a Debian kernel source and the fragment
# selftests/kunit/kunit.config, and print the path of the built tree
# (bzImage: arch/x86/boot/bzImage).
#
#   LINE 6.1 (default)  Debian bookworm's linux-source-6.1
#   LINE 7.2            sid's linux-source-7.2, fetched by sid-kernel.sh
#
# The tree is cached outside the repo, in $CXXVM_CACHE (default
# /var/cache/cxxvm), keyed by the line, the source package version and the
# hash of the fragment: it is rebuilt only when one of them changes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

line=${1:-6.1}
frag=$CXXVM_TOP/selftests/kunit/kunit.config
case $line in
6.1)
	tarball=/usr/src/linux-source-6.1.tar.xz
	[ -f "$tarball" ] || die "no $tarball (apt-get install linux-source-6.1)"
	srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
	;;
7.2)
	read -r _ _ _ tarball < <("$CXXVM_TOP/selftests/vm/sid-kernel.sh" | tail -n1) ||
		die "no sid kernel source"
	srcver=$(basename "$tarball" .tar.xz)
	srcver=${srcver#linux-source-7.2_}
	;;
*)	die "test kernel: unknown line $line (6.1 or 7.2)" ;;
esac
# A line may need more (selftests/kunit/kunit-LINE.config), merged after.
frags=("$frag")
[ ! -f "$CXXVM_TOP/selftests/kunit/kunit-$line.config" ] ||
	frags+=("$CXXVM_TOP/selftests/kunit/kunit-$line.config")
key=$(printf '%s\n' "$srcver" | cat - "${frags[@]}" | sha256sum | cut -c1-12)
cache=${CXXVM_CACHE:-/var/cache/cxxvm}
tree=$cache/test-kernel-$line-$srcver-$key

# One build at a time; a second caller waits and then finds it cached.
mkdir -p "$cache"
exec 9>"$cache/.lock-test-kernel-$line"
flock 9

if [ -f "$tree/.cxxvm-built" ]; then
	log "test kernel: cached $tree"
	echo "$tree"
	exit 0
fi

t0=$(date +%s)
tmp=$tree.tmp
rm -rf "$tmp"
mkdir -p "$tmp"
log "test kernel: unpacking linux-source-$line $srcver"
tar -xJf "$tarball" -C "$tmp" --strip-components=1

log "test kernel: tinyconfig + $(for f in "${frags[@]}"; do basename "$f"; done | tr '\n' ' ')"
make -s -C "$tmp" tinyconfig >/dev/null
(cd "$tmp" && scripts/kconfig/merge_config.sh -m .config "${frags[@]}" >/dev/null)
make -s -C "$tmp" olddefconfig >/dev/null
missing=$(cat "${frags[@]}" | grep -E '^CONFIG_[A-Z0-9_]+=' | while IFS= read -r opt; do
		grep -qxF "$opt" "$tmp/.config" || echo "$opt"
	  done)
[ -z "$missing" ] || die "test kernel config dropped: $(echo $missing)"

log "test kernel: make -j$(nproc) bzImage modules (several minutes)"
make -C "$tmp" -j"$(nproc)" bzImage modules >"$tmp/build.log" 2>&1 &
pid=$!
# Interrupted: do not leave make writing into a tree the next run deletes.
trap 'kill "$pid" 2>/dev/null' EXIT INT TERM
while kill -0 "$pid" 2>/dev/null; do
	sleep 30
	kill -0 "$pid" 2>/dev/null &&
		log "test kernel: building, $(( $(date +%s) - t0 )) s, $(find "$tmp" -name '*.o' | wc -l) objects"
done
if ! wait "$pid"; then
	tail -30 "$tmp/build.log" >&2
	die "test kernel build failed (log: $tmp/build.log)"
fi
trap - EXIT INT TERM
rm -rf "$tree"
mv "$tmp" "$tree"
touch "$tree/.cxxvm-built"
# A built tree is 1.7 GiB: keep only the one for the current key of
# this line.
for old in "$cache"/test-kernel-"$line"-*; do
	[ "$old" = "$tree" ] || [ "$old" = "$tmp" ] || rm -rf "$old"
done
log "test kernel: built in $(( $(date +%s) - t0 )) s: $tree"
echo "$tree"
