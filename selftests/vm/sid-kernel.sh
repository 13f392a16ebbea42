#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# sid-kernel.sh: Debian sid's stock 7.2 kernel, ready to boot under vng and
# to build cxxvm.ko against, without touching the host's apt sources,
# installed packages, /boot or /lib/modules.
#
# Prints on its last line: RELEASE IMAGE KDIR TARBALL
#   RELEASE  e.g. 7.2.13+deb14-amd64
#   IMAGE    the stock kernel image, for vng --run
#   KDIR     a tree to build modules against (make -C KDIR M=...)
#   TARBALL  the linux-source-7.2 tarball (for test-kernel.sh 7.2)
#
# How, and why it is sound (the README says the same):
#  - The packages come from sid through a private apt state in
#    $CXXVM_CACHE/sid-apt: apt-get download only, never dpkg -i.  The image
#    (linux-binary-unsigned-REL), its modules, linux-base-REL, the headers
#    package and linux-source-7.2 are unpacked with dpkg-deb -x into
#    $CXXVM_CACHE/sid-REL.  vng boots root/usr/lib/modules/REL/vmlinuz and
#    finds 9p and virtio in root/lib/modules (a symlink to usr/lib).
#  - sid's headers package cannot be used on bookworm: its Makefile wants
#    gcc-16 and its kbuild tools need glibc 2.38.  So the tree is
#    linux-source-7.2 (the same Debian source, patches applied) with the
#    image's own config, `make olddefconfig` with bookworm's gcc-12 and
#    `make KERNELRELEASE=REL modules_prepare`.  olddefconfig may change only
#    options that describe the toolchain (compiler and assembler versions
#    and capabilities, Rust and what depends on it, module signing keys):
#    any other change stops this script, because a structure's layout could
#    depend on it.  vermagic is "REL SMP preempt mod_unload" on both sides.
#  - Module.symvers (and vmlinux, for the module's BTF) come from the
#    headers package, so modpost checks every import against what the
#    stock kernel really exports, namespaces included.  MODVERSIONS is off
#    in sid's config, so no CRC has to match.
#
#   CXXVM_SID_LINE=7.2   the kernel line to take from sid
set -euo pipefail
. "$(dirname "$0")/lib.sh"

line=${CXXVM_SID_LINE:-7.2}
cache=${CXXVM_CACHE:-/var/cache/cxxvm}
apt_dir=$cache/sid-apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
exec 9>"$cache/.lock-sid"
flock 9

echo "deb http://deb.debian.org/debian sid main" >"$apt_dir/sid.list"
# Valid-Until is not checked for this private list: an archive mirror or
# snapshot frozen in time serves a sid Release file past its date.
apt_opts=(-o Dir::Etc::sourcelist="$apt_dir/sid.list" -o Dir::Etc::sourceparts=/dev/null
	  -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache::archives="$apt_dir/archives"
	  -o APT::Sandbox::User=root -o Acquire::Check-Valid-Until=false)
stamp=$apt_dir/update-stamp
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +720)" ]; then
	log "sid kernel: reading sid's package lists"
	apt-get "${apt_opts[@]}" -qq update >/dev/null || die "apt-get update (sid) failed"
	touch "$stamp"
fi
pat="^linux-image-${line//./\\.}\\.[0-9]+\\+deb[0-9]+-amd64\$"
rel=$(apt-cache "${apt_opts[@]}" search --names-only "$pat" | awk '{print $1}' |
      sed 's/^linux-image-//' | sort -V | tail -n1)
[ -n "$rel" ] || die "sid has no linux-image-$line.*-amd64"
srcpkg=linux-source-$line
srcver=$(apt-cache "${apt_opts[@]}" policy "$srcpkg" | sed -n 's/^ *Candidate: //p')
[ -n "$srcver" ] && [ "$srcver" != "(none)" ] || die "sid has no $srcpkg"
top=$cache/sid-$rel
root=$top/root tree=$top/tree tarball=$top/${srcpkg}_$srcver.tar.xz

if [ ! -f "$top/.cxxvm-ready" ]; then
	t0=$(date +%s)
	log "sid kernel: fetching $rel and $srcpkg $srcver (about 300 MB)"
	rm -rf "$top"
	mkdir -p "$top/debs" "$root" "$tree"
	(cd "$top/debs" && apt-get "${apt_opts[@]}" -qq download \
		"linux-binary-unsigned-$rel" "linux-modules-$rel" "linux-base-$rel" \
		"linux-headers-$rel" "$srcpkg=$srcver") || die "apt-get download failed"
	for deb in "$top/debs"/linux-{binary-unsigned,modules,base,headers}-*.deb; do
		dpkg-deb -x "$deb" "$root"
	done
	ln -sfn usr/lib "$root/lib"
	ln -sfn vmlinuz.unsigned "$root/usr/lib/modules/$rel/vmlinuz"
	dpkg-deb --fsys-tarfile "$top/debs/${srcpkg}_"*.deb |
		tar -xO --wildcards "*/$srcpkg.tar.xz" >"$tarball"
	rm -rf "$top/debs"

	log "sid kernel: preparing a module build tree from $srcpkg with $rel's config"
	tar -xJf "$tarball" -C "$tree" --strip-components=1
	stock_config=$root/usr/lib/modules/$rel/config
	cp "$stock_config" "$tree/.config"
	make -s -C "$tree" olddefconfig >/dev/null
	# Only toolchain-describing options may differ from the image's config.
	toolchain='^CONFIG_((CC|AS|LD|GCC|CLANG|RUSTC?|BINDGEN|PAHOLE|TOOLS)_|RUST$|RUST_|GCC_ASM_|MODULE_SIG_(ALL|KEY)$|SYSTEM_TRUSTED_KEYS$|BUILD_SALT$|OPENSSL_SUPPORTS_|AMCC_QT2025_PHY$|AX88796B_RUST_PHY$|DRM_PANIC_SCREEN_QR_)'
	changed=$(diff <(grep '^CONFIG_' "$stock_config" | sort) <(grep '^CONFIG_' "$tree/.config" | sort) |
		  sed -n 's/^[<>] \(CONFIG_[A-Za-z0-9_]*\)=.*/\1/p' | sort -u | grep -vE "$toolchain" || true)
	[ -z "$changed" ] || die "olddefconfig with $(gcc --version | head -n1) changed non-toolchain options: $(echo $changed)"
	make -s -C "$tree" -j"$(nproc)" KERNELRELEASE="$rel" modules_prepare >"$top/prepare.log" 2>&1 ||
		{ tail -20 "$top/prepare.log" >&2; die "modules_prepare failed"; }
	[ "$(cat "$tree/include/config/kernel.release")" = "$rel" ] ||
		die "the prepared tree's release is not $rel"
	cp "$root/usr/src/linux-headers-$rel/Module.symvers" "$root/usr/src/linux-headers-$rel/vmlinux" "$tree/"
	touch "$top/.cxxvm-ready"
	# Keep only the current release.
	for old in "$cache"/sid-"$line".*; do
		[ "$old" = "$top" ] || rm -rf "$old"
	done
	log "sid kernel: ready in $(( $(date +%s) - t0 )) s: $top"
fi
echo "$rel $root/usr/lib/modules/$rel/vmlinuz $tree $tarball"
