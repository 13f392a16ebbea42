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

# The newest installed stock 6.12 release, e.g. 6.12.117+deb12-amd64.
stock_612_release() {
	dpkg-query -W -f='${Package} ${Status}\n' 'linux-image-6.12.*+deb12-amd64' 2>/dev/null |
		awk '/ok installed/ { sub(/^linux-image-/, "", $1); print $1 }' | sort -V | tail -n1
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

# real_data: what guest-real.sh reads back through the kernel's own
# vm_map_ram() callers: four filesystems' sources (8 MB, 337 files) from
# Debian's linux-source-6.1 in src/, their sha256sums in manifest, and src/
# as an LZ4 erofs image with 64 KiB physical clusters in fs.erofs.  Made
# once in build/real (the guest sees build/, not /var/cache), again when
# the source or erofs-utils changes.  Prints the directory.
real_data() {
	local dir=$CXXVM_BUILD/real key
	key="$(dpkg-query -W -f='${Version} ' linux-source-6.1 erofs-utils) xfs,ext4,f2fs,erofs"
	if [ ! -f "$dir/.ready" ] || [ "$(cat "$dir/.ready")" != "$key" ]; then
		rm -rf "$dir"
		mkdir -p "$dir/src"
		tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$dir/src" --strip-components=2 \
			linux-source-6.1/fs/{xfs,ext4,f2fs,erofs} ||
			die "cannot unpack the real workloads' files"
		(cd "$dir/src" && find . -type f -print0 | sort -z | xargs -0 sha256sum) \
			>"$dir/manifest" || die "cannot checksum the real workloads' files"
		mkfs.erofs --quiet -zlz4hc -C65536 "$dir/fs.erofs" "$dir/src" >/dev/null ||
			die "mkfs.erofs failed"
		echo "$key" >"$dir/.ready"
	fi
	echo "$dir"
}

# real_kroot_opt IMAGE: the vng option a guest of IMAGE needs to load the
# filesystems of guest-real.sh.  vng hides /var/cache, where sid-kernel.sh
# unpacks 7.2 with its modules: that root is shared as /mnt (for modprobe
# -d /mnt, which real_env then asks for).  Nothing for the host's kernels.
real_kroot_opt() {
	case $1 in
	*/usr/lib/modules/*/vmlinuz) echo "--rodir=/mnt=${1%/usr/lib/modules/*}" ;;
	esac
}

# real_env IMAGE DATA: the environment, as "env NAME=VALUE..." words, that
# makes guest-check.sh run guest-real.sh on DATA in a guest of IMAGE.
real_env() {
	local kroot=
	[ -z "$(real_kroot_opt "$1")" ] || kroot=" CXXVM_REAL_KROOT=/mnt"
	echo "env CXXVM_REAL_DATA=$2$kroot"
}

# real_table LABEL=OUT...: the real section's table from guest-real.sh's
# "# real:" lines in each OUT.  Per workload: its calls and pages when
# taken over, the calls cxx passed to the kernel (over 64 pages, or no VA
# left), the takeover arena's shootdowns, ns per map+unmap pair in the
# wrappers (the same hook in both modes: observe runs the kernel's
# functions, on runs cxx's, fallbacks included), their ratio, the same
# from the medians of the traced calls (map p50 + unmap p50: a call whose
# vCPU was preempted does not move it), the peak VA the kernel's
# vm_map_ram() held while observed and the takeover arena held while on
# (sampled twice a second: guest-real.sh's va_sample), the second per
# page mapped against the first (the pages a workload maps vary from run
# to run, and the VA follows them) and minus the first scaled to the
# second's pages (MiB: the figure resolves about one 1 MiB block per
# CPU), the workload's wall time in each mode, and, if it ran in split
# (make bench, unless CXXVM_REAL_SPLIT=0), the kernel's and cxx's medians
# from that one run, interleaved, and their ratio ('-' without); last, the
# vmap blocks the takeover arena created while on, and the ns per call
# that creating them took (reserve_ns / calls: part of cxx's pair); and,
# if it ran in warm (split with takeover_warm), the medians and ratio of
# that run ('-' without).  A mode
# that ran more than once (make bench runs observe and on twice each)
# gives the mean of its runs' figures (a count with a fraction, such as
# one fallback in two runs, keeps one decimal).  Then, from the
# "# replay:" lines, the observed trace replayed through each backend
# (replay_table).
real_table() {
	local arg
	printf '%-6s %-6s %7s %7s %5s %5s %10s %10s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s %6s %8s %8s %8s %8s\n' \
		line wl calls pages fallb sd 'kernel ns' 'cxx ns' cxx/kern 'kern p50' 'cxx p50' \
		cxx/kern 'kern VA' 'cxx VA' 'VA/page' 'VA +/-' 'off ms' 'obs ms' 'on ms' 'spl kern' 'spl cxx' cxx/kern \
		blocks 'grow ns' 'wrm kern' 'wrm cxx' cxx/kern
	for arg; do
		awk -v label="${arg%%=*}" '
		/^# real(-p50)?: / {
			wl = $3; m = $4; sub(/^mode=/, "", m)
			for (i = 5; i <= NF; i++) {
				split($i, kv, "="); sum[wl, m, kv[1]] += kv[2]; runs[wl, m, kv[1]]++
			}
			if (!(wl in seen)) { seen[wl] = 1; order[++n] = wl }
		}
		function pair(w, m) {
			return f[w, m, "map_calls"] ? (f[w, m, "map_ns"] + f[w, m, "unmap_ns"]) / f[w, m, "map_calls"] : 0
		}
		function count(x) {
			return x == int(x) ? sprintf("%d", x) : sprintf("%.1f", x)
		}
		# map p50 + unmap p50 of mode m: observe and on trace one
		# allocator (who ""), split and warm both ("kern_", "cxx_").
		function p50(w, m, who) {
			return f[w, m, who "map_p50_ns"] + f[w, m, who "unmap_p50_ns"]
		}
		# the kern and cxx medians of a run with both, and their ratio
		function both(w, m,    k, c) {
			k = p50(w, m, "kern_"); c = p50(w, m, "cxx_")
			return sprintf("%8s %8s %8s", k ? sprintf("%.0f", k) : "-", c ? sprintf("%.0f", c) : "-",
				k && c ? sprintf("%.2f", c / k) : "-")
		}
		END {
			for (key in sum) f[key] = sum[key] / runs[key]
			for (k = 1; k <= n; k++) {
				w = order[k]; kern = pair(w, "observe"); cxx = pair(w, "on")
				kp = p50(w, "observe"); cp = p50(w, "on")
				kva = f[w, "observe", "kern_va_kb"]; cva = f[w, "on", "cxx_va_kb"]
				kpg = f[w, "observe", "map_pages"]; cpg = f[w, "on", "map_pages"]
				calls = f[w, "on", "map_calls"]
				printf "%-6s %-6s %7s %7s %5s %5s %10.0f %10.0f %8s %8d %8d %8s %7.1fM %7.1fM %8s %8s %8d %8d %8d %s %6s %8s %s\n",
					label, w, count(calls), count(f[w, "on", "map_pages"]),
					count(f[w, "on", "fallbacks"]), count(f[w, "on", "shootdowns"]), kern, cxx,
					kern ? sprintf("%.2f", cxx / kern) : "-", kp, cp,
					kp ? sprintf("%.2f", cp / kp) : "-",
					kva / 1024, cva / 1024,
					kva && kpg && cpg ? sprintf("%.2f", (cva / cpg) / (kva / kpg)) : "-",
					kva && kpg && cpg ? sprintf("%+.2fM", (cva - kva * cpg / kpg) / 1024) : "-",
					f[w, "off", "ms"], f[w, "observe", "ms"], f[w, "on", "ms"],
					both(w, "split"),
					count(f[w, "on", "blocks"]), calls ? sprintf("%.0f", f[w, "on", "reserve_ns"] / calls) : "-",
					both(w, "warm")
			}
		}' "${arg#*=}"
	done
	echo
	replay_table "$@"
}

# replay_table LABEL=OUT...: cxxvm-bench's "# replay:" lines in each OUT
# (guest-bench.sh replays each workload's observed trace): per workload and
# backend, ns per map+unmap pair (pass 1), the pair against vm_map_ram's,
# the C++ backend's fallbacks, shootdowns, new blocks and the ms it spent
# creating them and shooting down, its peak VA against the trace's peak of
# mapped pages, and ns per map+unmap pair when the TLB is flushed before
# each call (cxxvm-bench's cold pass 2) with its ratio to vm_map_ram's.
replay_table() {
	local arg
	printf '%-6s %-6s %-10s %6s %9s %7s %5s %5s %6s %8s %8s %9s %8s %9s %7s\n' line wl \
		backend maps 'pair ns' 'vs vmr' fallb sd blocks 'blk ms' 'sd ms' 'peak VA' 'mapped' \
		'cold ns' 'vs vmr'
	for arg; do
		awk -v label="${arg%%=*}" '
		/^# replay: / {
			delete f
			for (i = 3; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
			wl = f["trace"]; sub(/^cxxvm-real-/, "", wl); sub(/-observe\.replay$/, "", wl)
			sub(/\.replay$/, "", wl)
			cold = f["cold_pair_ns"]
			if (f["backend"] == "vm_map_ram") { vmr[wl] = f["cycle_ns"]; cvmr[wl] = cold }
			row[++n] = sprintf("%s %s %s %s %s %s %s %s %s %s %s %s", wl, f["backend"], f["maps"],
				f["cycle_ns"], f["fallbacks"], f["shootdowns"], f["blocks"],
				f["block_ms"], f["shootdown_ms"], f["peak_va_kib"], f["peak_kib"], cold)
		}
		END {
			for (k = 1; k <= n; k++) {
				split(row[k], r, " ")
				printf "%-6s %-6s %-10s %6d %9d %7s %5s %5s %6s %8s %8s %9s %8s %9d %7s\n", label,
					r[1], r[2], r[3], r[4],
					vmr[r[1]] ? sprintf("%.2f", r[4] / vmr[r[1]]) : "-",
					r[5], r[6], r[7], r[8], r[9],
					r[10] == "-" ? "-" : r[10] "K", r[11] "K", r[12],
					cvmr[r[1]] ? sprintf("%.2f", r[12] / cvmr[r[1]]) : "-"
			}
		}' "${arg#*=}"
	done
}

# build_ko LABEL KDIR: build cxxvm.ko against the kernel tree or headers
# KDIR in build/LABEL and print the .ko path.  modpost reads KDIR's
# Module.symvers: an import the kernel does not export to this module (or
# exports in a namespace it does not import) fails the build.
build_ko() {
	local label=$1 kdir=$2 dir=$CXXVM_BUILD/$1
	[ -d "$kdir" ] || die "no kernel tree or headers in $kdir"
	[ -f "$kdir/Module.symvers" ] || die "no $kdir/Module.symvers: imports cannot be checked"
	rm -rf "$dir"
	copy_sources "$dir"
	kbuild_clean "$kdir" "$dir"
	echo "$dir/cxxvm.ko"
}

# The kernels make check and make bench boot, one "LABEL IMAGE KDIR" line
# each: KERNEL=IMAGE KDIR=TREE (a user's own kernel) if given, else Debian's
# stock lines, filtered by CXXVM_KERNELS (e.g. "7.2" or "6.1 7.2").
# Installs nothing: host-setup.sh has run.  Fails if a line is unknown.
guest_kernels() {
	local want=${CXXVM_KERNELS:-6.1 6.12 7.2} k rel sid
	if [ -n "${CXXVM_KERNEL:-}" ]; then
		[ -n "${CXXVM_KDIR:-}" ] || die "KERNEL= needs KDIR= (the tree it was built from)"
		[ -f "$CXXVM_KERNEL" ] || die "no kernel image $CXXVM_KERNEL"
		echo "own $CXXVM_KERNEL $CXXVM_KDIR"
		return 0
	fi
	for k in $want; do
		case $k in
		6.1)	rel=$(stock_61_release)
			[ -n "$rel" ] || die "cannot tell which 6.1 kernel linux-image-amd64 installed"
			echo "6.1 /boot/vmlinuz-$rel /lib/modules/$rel/build" ;;
		6.12)	rel=$(stock_612_release)
			[ -n "$rel" ] || die "no linux-image-6.12.*+deb12-amd64 installed"
			echo "6.12 /boot/vmlinuz-$rel /lib/modules/$rel/build" ;;
		7.2)	sid=$("$CXXVM_TOP/selftests/vm/sid-kernel.sh" | tail -n1) ||
				die "cannot fetch or prepare sid's 7.2 kernel"
			read -r rel img tree _ <<<"$sid"
			echo "7.2 $img $tree" ;;
		*)	die "CXXVM_KERNELS: unknown kernel line $k (6.1, 6.12 or 7.2)" ;;
		esac
	done
}

# Console lines that fail a guest run: oopses, warnings, BUGs, lockdep,
# KASAN/UBSAN and kmemleak reports.
CXXVM_BAD_CONSOLE='Oops|WARNING:|BUG:|Kernel panic|general protection fault|Call Trace:|kernel BUG|possible recursive locking|circular locking dependency|inconsistent lock state|possible irq lock inversion|suspicious RCU usage|KASAN:|UBSAN:|unreferenced object|stack-protector'

# tap_tally FILE LABEL: the TAP lines in FILE (the selftests' and
# guest-check.sh's stages), as "PASSED FAILED SKIPPED" on stdout (a skip is
# an "ok ... # SKIP", not a pass); the failed and skipped lines go to
# stderr, prefixed with LABEL.
tap_tally() {
	local ok skip notok
	ok=$(grep -cE '^ok ' "$1")
	skip=$(grep -cE '^ok .*# SKIP' "$1")
	notok=$(grep -cE '^not ok ' "$1")
	tap_problems "$1" | sed "s/^/[cxxvm] [$2] /" >&2
	echo "$((ok - skip)) $notok $skip"
}

# tap_problems FILE: FILE's failed and skipped TAP lines.
tap_problems() {
	grep -E '^not ok |^ok .*# SKIP' "$1"
}

# vng_run KERNEL_IMAGE CONSOLE_LOG [vng options...] -- COMMAND
# Boots KERNEL_IMAGE under TCG with vng, runs COMMAND as root in the guest
# (the host's filesystem is shared, so built files are used in place), and
# streams its output.  The kernel console goes to CONSOLE_LOG.  Fails if
# the command fails, the guest does not finish in CXXVM_VM_TIMEOUT seconds
# (default 900), or the console shows a line of CXXVM_BAD_CONSOLE.
# CXXVM_VM_CPUS sets the guest's vCPUs (default 2), CXXVM_VM_MEMORY its RAM
# (default 2G).  Every guest boots with tsc=reliable: under TCG on a busy
# host the clocksource watchdog can find the TSC skewed against the HPET
# and mark it unstable, and the static key that flips then patches kernel
# text while the other vCPU runs (seen once in a 7.2 debug guest, in the
# middle of make check: an int3 oops in sched_clock_stable()).  qemu
# derives every vCPU's TSC from the host clock, so the check is not needed.
vng_run() {
	local image=$1 console=$2 opts=() rc=0
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	timeout "${CXXVM_VM_TIMEOUT:-900}" \
		vng --run "$image" --disable-kvm --cpus "${CXXVM_VM_CPUS:-2}" \
		    --memory "${CXXVM_VM_MEMORY:-2G}" -v --append tsc=reliable \
		    "${opts[@]}" --exec "$*" </dev/null 2>"$console" || rc=$?
	if grep -nE "$CXXVM_BAD_CONSOLE" "$console" >&2; then
		log "the guest console shows the report above (full log: $console)"
		[ "$rc" -ne 0 ] || rc=125
	fi
	[ "$rc" -ne 124 ] || log "guest timed out after ${CXXVM_VM_TIMEOUT:-900}s"
	return "$rc"
}

# cxxvm_touched CONSOLE: whether the guest whose kernel console is CONSOLE
# ever loaded cxxvm.ko or cxxvm_kunit.ko, even one refused at load.  Every
# guest loads cxxvm.ko first, and the first out-of-tree module of a boot
# makes the kernel print "cxxvm: loading out-of-tree module taints
# kernel." before any of its code runs (load_module(), 6.1 to 7.2); the
# modules' own messages carry the same prefix, and an oops names them in
# "Modules linked in: cxxvm(O)" and "[cxxvm]" frames.  With or without
# timestamps or caller ids (CONFIG_PRINTK_TIME, _CALLER).  A guest that
# died without any of these is a boot failure, not cxxvm's, and may be
# booted again.
cxxvm_touched() {
	grep -qE '(^|\] )cxxvm(_kunit)?: |[ ,]cxxvm(_kunit)?\([A-Z+-]+\)|\[cxxvm(_kunit)?\]' "$1"
}

# kmemleak_leaks OUT: what the guest's kmemleak_report (guest-lib.sh)
# printed in OUT, nothing if it found no leak.
kmemleak_leaks() {
	sed -n '/^---- kmemleak begin/,/^---- kmemleak end/p' "$1" | sed '1d;$d'
}

# kmemleak_failures OUT CONSOLE LABEL: log and count (on stdout: 0, 1 or
# 2) what fails a debug guest's kmemleak check: a report that never came
# to its end marker or a kmemleak that disabled itself (CONSOLE), and the
# leaks it reported.
kmemleak_failures() {
	local n=0 leaks
	if ! grep -q '^---- kmemleak end' "$1" ||
	   grep -qiE 'kmemleak.*disabl|leak detector disabled' "$2"; then
		log "[$3] kmemleak did not run to the end (or disabled itself)"
		n=$((n + 1))
	fi
	leaks=$(kmemleak_leaks "$1")
	if [ -n "$leaks" ]; then
		printf '%s\n' "$leaks" >&2
		log "[$3] kmemleak reports the leaks above"
		n=$((n + 1))
	fi
	echo "$n"
}

# virtme_guest_copy DIR: a copy of virtme-ng's guest directory in DIR whose
# virtme-sshd-script is selftests/vm/guest-init/'s (it makes the
# /dev/virtio-ports links itself, see kunit.sh); prints the directory it
# copied, the one to mount it over with vng's --rodir ORIG=DIR, and to
# boot with "virtme.ssh" on the kernel command line.
virtme_guest_copy() {
	local vguest
	vguest=$(dirname "$(dpkg -L virtme-ng 2>/dev/null | grep -m1 '/guest/virtme-init$')")
	[ -x "$vguest/virtme-init" ] || die "cannot find virtme-ng's guest directory"
	rm -rf "$1"
	cp -a "$vguest" "$1"
	cp "$CXXVM_TOP/selftests/vm/guest-init/virtme-sshd-script" "$1/"
	echo "$vguest"
}

# style_check: checkpatch.pl (errors and warnings) and kernel-doc over the
# C sources and C headers, with the scripts from Debian's linux-source-6.1
# (the header packages do not ship them).  Extracted once into build/.
style_check() {
	local tools=$CXXVM_BUILD/kernel-scripts rc=0
	local files=(module/*.c module/*.h cxxrt/*.c include/uapi/linux/cxxvm.h
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
