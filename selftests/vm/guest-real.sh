#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# guest-real.sh DATA [KROOT]: runs inside a guest with cxxvm.ko loaded.  The
# kernel's own vm_map_ram() callers under each takeover mode (off, observe,
# on; or the modes CXXVM_REAL_MODES lists, in its order), in the same
# guest: every file read back must match its checksum, and the takeover's
# counters must show who served the calls.
#
# KROOT: a directory that holds lib/modules/$(uname -r) of the guest's
# kernel, for modprobe -d (vng hides /var/cache, where sid-kernel.sh
# unpacks 7.2: the host passes it with --rodir).
# DATA (made on the host by real_data in lib.sh) holds src/ (a tree of
# files), manifest (their sha256sums, relative to src/) and fs.erofs (src/
# as an LZ4 erofs image with 64 KiB physical clusters).  Workloads:
#   erofs  mount the image read-only, drop caches, check every file;
#   f2fs   a fresh f2fs with compress_algorithm=lz4 on every file: copy
#          src/ in, sync, drop caches, check every file;
#   xfs    (where xfs_buf still maps with vm_map_ram(): kernels before
#          6.15) 64 KiB directory blocks: create, list and remove many
#          files;
#   fuse   (where FUSE's uncached readdir maps its reply with
#          vm_map_ram(): 7.x) bindfs of src/: list the tree ten times,
#          each listing must name exactly the manifest's files.
#
# In every mode but off, the takeover's trace events (cxxvm:cxxvm_vm_map_ram,
# cxxvm:cxxvm_vm_unmap_ram) record every call in tracefs; the trace must
# hold every call the counters saw, and trace2replay.awk turns it into a
# replay trace (selftests/fixtures/README), left in
# /tmp/cxxvm-real-WORKLOAD-MODE.replay (a mode's second run's in
# ...-MODE-2.replay).  The first observed one of each workload is replayed
# through every backend later, by the caller (guest-bench.sh, in a fresh
# load of the module: once hooked, vm_map_ram() and vm_unmap_ram() pass
# through the hook until rmmod, which the replay's kernel backends would
# pay and its cxx backend would not; guest-check.sh).  Each mode starts
# with both arenas and the kernel's lazy areas purged (cxxvm-bench -s
# flush), unless CXXVM_REAL_FLUSH=0 (guest-check.sh, which runs this
# beside selftests that count the module arena's blocks).
#
# The VA each allocator holds is sampled twice a second while a workload
# runs (va_sample): the "# real:" line's kern_va_kb is the peak of the
# kernel's vm_map_ram() areas and vmalloc's lazily freed areas, cxx_va_kb
# the peak of the takeover arena's blocks and the lazily freed areas
# (plus the kernel's growth, for fallbacks).
#
# Prints one TAP-style line per step and a "# real:" line per workload and
# mode with the wrapper's counters (debugfs cxxvm/takeover); exits
# non-zero on any failure.  CXXVM_REAL_WORKLOADS: which (default all).
# CXXVM_REAL_ONLY: only these top directories of src/ (e.g. "erofs f2fs",
# for the slower debug kernels), read from the image and copied to f2fs.
# shellcheck disable=SC2317 # the wl_* functions are called as "wl_$wl"
set -u
data=$1 kroot=${2:-}
here=$(dirname "$0")
tracing=/sys/kernel/tracing
param=/sys/module/cxxvm/parameters/takeover
warm_param=/sys/module/cxxvm/parameters/takeover_warm
dbg=/sys/kernel/debug/cxxvm/takeover
mnt=/tmp/cxxvm-real-mnt
scratch=/tmp/cxxvm-real-dev
fail=0
step() { # step NAME STATUS
	if [ "$2" -eq 0 ]; then echo "ok real $1"; else echo "not ok real $1"; fail=1; fi
}

# counters: a snapshot of the takeover's debugfs file: lines of a section
# name ("map", "unmap", ...) and key=value words.
counters() {
	cat "$dbg"
}

# field SNAPSHOT SECTION KEY: KEY's value in SECTION's line.
field() {
	awk -v s="$2" -v k="$3" '$1 == s {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] }
	}' <<<"$1"
}

# delta BEFORE AFTER SECTION KEY
delta() {
	echo $(($(field "$2" "$3" "$4") - $(field "$1" "$3" "$4")))
}

# load loop|FS...: make the loop driver and each filesystem available,
# unless the kernel has it built in (modprobe from KROOT if given).
load() {
	local m
	for m; do
		if [ "$m" = loop ]; then
			[ -e /dev/loop-control ] && continue
		else
			grep -qw "$m" /proc/filesystems && continue
		fi
		# shellcheck disable=SC2086 # empty, or two words
		modprobe ${kroot:+-d "$kroot"} "$m" || return 1
	done
}

# trace_init: the takeover's two events on (not the purge and block
# events, which would cost the replays' C++ backend a clock read per
# shootdown), recording off, once for the whole run, while the takeover
# is off.  Enabling an event patches kernel text (its
# tracepoint's static key), and by default also turns on the recording of
# command names, which hooks sched_switch and sched_wakeup: under TCG a
# vCPU can then trap on a stale int3 in the scheduler (seen once: an oops
# in ttwu_do_activate() while the events were switched for each mode).
# So record-cmd is off, and each mode only starts and stops the ring.
trace_init() {
	[ -e "$tracing/events" ] || mount -t tracefs nodev "$tracing" || return 1
	echo 0 >"$tracing/tracing_on" &&
		echo 0 >"$tracing/options/record-cmd" &&
		echo 0 >"$tracing/options/record-tgid" &&
		echo mono >"$tracing/trace_clock" &&
		echo 16384 >"$tracing/buffer_size_kb" &&
		echo 1 >"$tracing/events/cxxvm/cxxvm_vm_map_ram/enable" &&
		echo 1 >"$tracing/events/cxxvm/cxxvm_vm_unmap_ram/enable"
}

# trace_fini: the events off again (the takeover is off: nothing runs
# them), and the ring back on as a fresh tracefs has it.
trace_fini() {
	echo 0 >"$tracing/events/cxxvm/cxxvm_vm_map_ram/enable" &&
		echo 0 >"$tracing/events/cxxvm/cxxvm_vm_unmap_ram/enable" &&
		echo 1 >"$tracing/options/record-cmd" &&
		echo 1 >"$tracing/tracing_on"
}

# trace_start: an empty 16 MiB-per-CPU ring of the cxxvm events, on the
# mono clock (ordered across CPUs), recording.
trace_start() {
	echo 0 >"$tracing/tracing_on" &&
		echo >"$tracing/trace" &&
		echo 1 >"$tracing/tracing_on"
}

# trace_stop OUT: stop, keep the trace in OUT.trace and turn it into a
# replay trace in OUT; fails if the ring overran (calls would be missing).
trace_stop() {
	local overrun=0
	echo 0 >"$tracing/tracing_on"
	# Before the ring is cleared, which zeroes the counts.
	grep -qE '^overrun: [1-9]' "$tracing"/per_cpu/cpu*/stats && overrun=1
	cat "$tracing/trace" >"$1.trace" || return 1
	echo >"$tracing/trace"
	awk -f "$here/trace2replay.awk" "$1.trace" >"$1" || return 1
	[ "$overrun" -eq 0 ]
}

# p50 TRACE EVENT [BY]: the median ns= of EVENT's calls in TRACE (0 if
# none), only those served by BY (cxx, kernel or fallback) if given, never
# the unmaps the takeover refused (by=refused: no allocator served them):
# what one call costs, without the calls a busy vCPU was preempted in.
p50() {
	grep -v ' by=refused ' "$1" | sed -n "s/.* $2: .* by=${3:-[a-z]*} ns=\([0-9]*\).*/\1/p" | sort -n |
		awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }'
}

# va_sample: one line "KERNEL_KB CXX_KB LAZY_KB": the VA of the kernel's
# vm_map_ram() areas ("vm_map_ram" in /proc/vmallocinfo: vmap blocks with
# live or dirty space, and larger mappings), of the takeover arena's
# blocks (each a vmap() with a guard page; debugfs gives the count), and
# of vmalloc's lazily freed areas ("unpurged vm_area": vmap blocks the
# kernel freed once all dirty, blocks the arena gave back, and whatever
# else was vunmap()ed or vfree()d meanwhile; adjacent ones are merged,
# so they cannot be told apart by size).
va_sample() {
	awk -v page="$page_size" '
	FILENAME != "/proc/vmallocinfo" {
		for (i = 2; i <= NF; i++) {
			split($i, kv, "=")
			if ($1 == "arena" && kv[1] == "blocks_live") live = kv[2]
			if ($1 == "blocks" && kv[1] == "pages") cxx_pages = kv[2]
		}
		next
	}
	$3 == "vm_map_ram" { k += $2 }
	$3 == "unpurged" { u += $2 }
	END { printf "%d %d %d\n", k / 1024, live * (cxx_pages + 1) * page / 1024, u / 1024 }' \
		"$dbg" /proc/vmallocinfo
}

# va_watch OUT: va_sample into OUT twice a second until killed.  The VA
# either allocator holds only grows between its purges, so the samples
# see the peak within half a second of the workload's purges.
va_watch() {
	while :; do
		va_sample >>"$1"
		sleep 0.5
	done
}

# va_peaks SAMPLES: "kern_va_kb=K cxx_va_kb=C lazy_va_kb=L": the peak of
# the kernel's areas and the lazily freed ones, and of the takeover
# arena's blocks, the lazily freed areas and what the kernel's grew by
# since the first sample (the fallbacks' VA); and the peak of the lazily
# freed areas alone.  They count on both sides: in observe they are
# mostly the kernel's freed vmap blocks; in on the arena's given-back
# blocks are not among them (vm_unmap_aliases() purges right after it
# gives them back), so there they are the filesystem's own vfree()s,
# which in observe the kernel's blocks would have pushed out sooner: a
# bias against cxx.  Both also count what each allocator kept from before
# the workload (the kernel's partly used vmap blocks, the arena's blocks).
va_peaks() {
	awk 'NR == 1 { k0 = $1 }
	{ g = $1 > k0 ? $1 - k0 : 0
	  if ($1 + $3 > k) k = $1 + $3
	  if ($2 + $3 + g > c) c = $2 + $3 + g
	  if ($3 > l) l = $3 }
	END { printf "kern_va_kb=%d cxx_va_kb=%d lazy_va_kb=%d\n", k, c, l }' "$1"
}

drop_caches() {
	sync && echo 3 >/proc/sys/vm/drop_caches
}

# check_tree DIR: every file of the manifest, read from DIR, must match.
check_tree() {
	local out n bad
	out=$(cd "$1" && sha256sum -c "$manifest" 2>&1)
	n=$(grep -c ': OK$' <<<"$out")
	bad=$(grep -vc ': OK$' <<<"$out")
	echo "# $n files match, $bad do not"
	[ "$bad" -eq 0 ] && [ "$n" -gt 0 ] && [ "$n" -eq "$(wc -l <"$manifest")" ]
}

wl_erofs() {
	load loop erofs || return 1
	mount -t erofs -o ro,loop "$data/fs.erofs" "$mnt" || return 1
	drop_caches
	check_tree "$mnt"
	local rc=$?
	umount "$mnt" || rc=1
	return "$rc"
}

wl_f2fs() {
	local rc
	load loop f2fs || return 1
	rm -f "$scratch" && truncate -s 512M "$scratch" &&
		mkfs.f2fs -q -f -O extra_attr,compression "$scratch" >/dev/null &&
		mount -t f2fs -o loop,compress_algorithm=lz4,compress_extension='*' "$scratch" "$mnt" ||
		return 1
	# shellcheck disable=SC2086 # a list of directories
	(cd "$data/src" && cp -a --parents $dirs "$mnt/") && drop_caches && check_tree "$mnt"
	rc=$?
	umount "$mnt" || rc=1
	rm -f "$scratch"
	return "$rc"
}

wl_xfs() {
	local rc n
	load loop xfs || return 1
	rm -f "$scratch" && truncate -s 1G "$scratch" &&
		mkfs.xfs -q -f -n size=65536 "$scratch" >/dev/null &&
		mount -t xfs -o loop "$scratch" "$mnt" || return 1
	mkdir "$mnt/d" && (cd "$mnt/d" && seq -f 'a-rather-long-file-name-%06g' 20000 | xargs touch)
	rc=$?
	drop_caches
	n=$(find "$mnt/d" -type f | wc -l)
	echo "# xfs: $n of 20000 files listed"
	[ "$n" -eq 20000 ] || rc=1
	rm -rf "$mnt/d" || rc=1
	umount "$mnt" || rc=1
	rm -f "$scratch"
	return "$rc"
}

# bindfs (libfuse) of src/, read-only: the tree listed ten times, and each
# listing must name exactly the manifest's files (what the mapped readdir
# replies carried).  The files' data is not read: FUSE reads do not map
# with vm_map_ram(), and through bindfs over the guest's 9p root they
# would take a minute.
wl_fuse() {
	local rc=0 i want got
	load fuse || return 1
	bindfs -o ro "$data/src" "$mnt" || return 1
	want=$(sed 's/^[0-9a-f]*  //' "$manifest" | sort)
	# Uncached FUSE readdir (bindfs does not ask for the cache) maps each
	# reply's pages with vm_map_ram(): one call per getdents that
	# returns entries, of the buffer's pages.
	for i in 1 2 3 4 5 6 7 8 9 10; do
		# shellcheck disable=SC2086 # a list of directories
		got=$(cd "$mnt" && find $dirs -type f | sed 's|^\([^.]\)|./\1|' | sort)
		[ "$got" = "$want" ] || rc=1
	done
	echo "# fuse: $(wc -l <<<"$want") files, listed $i times: $([ "$rc" -eq 0 ] && echo all match || echo MISMATCH)"
	fusermount3 -u "$mnt" 2>/dev/null || fusermount -u "$mnt" || umount "$mnt" || rc=1
	return "$rc"
}

workloads=${CXXVM_REAL_WORKLOADS:-erofs f2fs xfs fuse}
# xfs_buf.c stopped mapping with vm_map_ram() in 6.15; FUSE's readdir
# started in 7.x (fuse_readdir_uncached()).
case $(uname -r) in
[1-5].*|6.[0-9].*|6.1[0-4].*) workloads=${workloads/fuse/} ;;
[6].*) workloads=${workloads/xfs/}; workloads=${workloads/fuse/} ;;
*) workloads=${workloads/xfs/} ;;
esac
mkdir -p "$mnt"
page_size=$(getconf PAGESIZE)
# The files to read back: all of src/, or CXXVM_REAL_ONLY's directories.
manifest=$data/manifest dirs=.
if [ -n "${CXXVM_REAL_ONLY:-}" ]; then
	dirs=${CXXVM_REAL_ONLY}
	manifest=/tmp/cxxvm-real-manifest
	grep -E "  \./(${dirs// /|})/" "$data/manifest" >"$manifest"
fi
# CXXVM_REAL_MODES: the modes each workload runs in, in this order; a mode
# may come twice (make bench: "off observe on on observe split", so that a
# workload whose pages vary from run to run in the same guest, as erofs's
# do whichever allocator serves it, favours neither observe nor on; and
# split, a random half of the maps by cxx, for per-call figures from one
# run; then warm, which is split with takeover_warm on: each timed call
# preceded by an untimed one-page map and unmap through the allocator
# that serves it).  A second run's steps say "(run 2)", its files end in -2.
modes=${CXXVM_REAL_MODES:-off observe on}
for mode in $modes; do
	case $mode in
	off | observe | on | split | warm) ;;
	*) step "CXXVM_REAL_MODES: no mode $mode" 1; exit 1 ;;
	esac
done
[ -w "$param" ] && [ -w "$warm_param" ] && [ -r "$dbg" ]
step "takeover switch ($param, $warm_param) and counters ($dbg)" $?
# A kernel without the ftrace the hook needs refuses every mode but off:
# say so as a skip (which make check counts against a pass), not a pass.
if ! err=$( (echo observe >"$param") 2>&1); then
	if grep -qi 'not supported' <<<"$err"; then
		echo "ok real workloads # SKIP this kernel has no CONFIG_DYNAMIC_FTRACE_WITH_REGS: no takeover"
		exit "$fail"
	fi
fi
echo off >"$param"
# A line only if it fails: the steps below fail without it anyway.
trace_init || step "trace events cxxvm_vm_map_ram and cxxvm_vm_unmap_ram on" 1

for wl in $workloads; do
	declare -A runs=()
	for mode in $modes; do
		runs[$mode]=$((${runs[$mode]:-0} + 1))
		sfx='' name=$mode
		if [ "${runs[$mode]}" -gt 1 ]; then
			sfx=-${runs[$mode]} name="$mode (run ${runs[$mode]})"
		fi
		# warm: split, with takeover_warm=Y (each mode sets it).
		tmode=$mode warm=N
		[ "$mode" = warm ] && tmode=split warm=Y
		echo "$warm" >"$warm_param" && [ "$(cat "$warm_param")" = "$warm" ] &&
			echo "$tmode" >"$param" && [ "$(cat "$param")" = "$tmode" ]
		step "$wl: takeover=$name set" $?
		# Alone in its guest, each mode starts from purged allocators:
		# the kernel's lazy areas and both arenas' dirty slots (beside
		# the selftests, which count the module arena, it cannot).
		if [ "${CXXVM_REAL_FLUSH:-1}" = 1 ]; then
			"$here/../cxxvm-bench" -s flush >/dev/null ||
				step "$wl: takeover=$name, allocators purged" 1
		fi
		replay=/tmp/cxxvm-real-$wl-$mode$sfx.replay
		traced=0
		outer0=$(counters)
		if [ "$mode" != off ]; then
			trace_start
			traced=$?
			step "$wl: takeover=$name, tracing the calls" $traced
		fi
		va=/tmp/cxxvm-real-$wl-$mode$sfx.va
		va_sample >"$va"
		va_watch "$va" &
		vpid=$!
		before=$(counters)
		t0=$(date +%s%N)
		"wl_$wl"
		rc=$?
		t1=$(date +%s%N)
		after=$(counters)
		kill "$vpid"
		wait "$vpid" 2>/dev/null
		va_sample >>"$va"
		calls=$(delta "$before" "$after" map calls)
		cxx=$(delta "$before" "$after" map cxx)
		echo "# real: $wl mode=$mode ms=$(((t1 - t0) / 1000000))" \
			"map_calls=$calls map_pages=$(delta "$before" "$after" map pages)" \
			"map_ns=$(delta "$before" "$after" map ns) cxx=$cxx" \
			"fallbacks=$(delta "$before" "$after" map fallbacks)" \
			"failures=$(delta "$before" "$after" map failures)" \
			"unmap_calls=$(delta "$before" "$after" unmap calls)" \
			"unmap_ns=$(delta "$before" "$after" unmap ns)" \
			"unmap_cxx=$(delta "$before" "$after" unmap cxx)" \
			"alias_calls=$(delta "$before" "$after" aliases calls)" \
			"shootdowns=$(delta "$before" "$after" arena shootdowns)" \
			"blocks=$(delta "$before" "$after" arena blocks_created)" \
			"reserve_ns=$(delta "$before" "$after" arena reserve_ns)" \
			"$(va_peaks "$va")"
		step "$wl: takeover=$name, every file matches" $rc
		# Who served the calls: nobody counted in off, the kernel in
		# observe, cxx in on (and every one of its maps unmapped), both
		# in split.
		case $mode in
		off) [ "$calls" -eq 0 ] ;;
		observe) [ "$calls" -gt 0 ] && [ "$cxx" -eq 0 ] ;;
		on) [ "$cxx" -gt 0 ] &&
			[ "$(delta "$before" "$after" unmap cxx)" -eq "$cxx" ] ;;
		split | warm) [ "$cxx" -gt 0 ] && [ "$cxx" -lt "$calls" ] &&
			[ "$(delta "$before" "$after" unmap cxx)" -eq "$cxx" ] ;;
		esac
		step "$wl: takeover=$name, calls served as the mode says ($calls calls, $cxx by cxx)" $?
		if [ "$mode" = off ] || [ "$traced" -ne 0 ]; then
			continue
		fi
		# The trace holds every call the counters saw while it ran: each
		# map that returned an address, or failed; no fewer than the
		# workload's, no more than from before it started to after it
		# stopped (another task's calls may fall in between).
		trace_stop "$replay"
		rc=$?
		# The converter's closing comment: "# maps=N ... failed=N ...".
		summary=$(tail -n1 "$replay")
		traced=$(($(field "$summary" '#' maps) + $(field "$summary" '#' failed)))
		outer=$(delta "$outer0" "$(counters)" map calls)
		[ "$rc" -eq 0 ] && [ "$traced" -ge "$calls" ] && [ "$traced" -le "$outer" ]
		step "$wl: takeover=$name, the trace holds all $calls maps ($(tail -n1 "$replay"))" $?
		if [ "$mode" = split ] || [ "$mode" = warm ]; then
			echo "# real-p50: $wl mode=$mode" \
				"kern_map_p50_ns=$(p50 "$replay.trace" cxxvm_vm_map_ram kernel)" \
				"kern_unmap_p50_ns=$(p50 "$replay.trace" cxxvm_vm_unmap_ram kernel)" \
				"cxx_map_p50_ns=$(p50 "$replay.trace" cxxvm_vm_map_ram cxx)" \
				"cxx_unmap_p50_ns=$(p50 "$replay.trace" cxxvm_vm_unmap_ram cxx)"
			continue
		fi
		echo "# real-p50: $wl mode=$mode map_p50_ns=$(p50 "$replay.trace" cxxvm_vm_map_ram)" \
			"unmap_p50_ns=$(p50 "$replay.trace" cxxvm_vm_unmap_ram)"
	done
done

# Off again: nothing live, so the module reference goes.
echo off >"$param"
echo N >"$warm_param"
grep -qE '^mode=off .*held=0 live=0$' "$dbg"
step "takeover off: released, nothing live ($(head -n1 "$dbg"))" $?
trace_fini
exit $fail
