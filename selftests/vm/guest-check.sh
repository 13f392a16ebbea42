#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# guest-check.sh KO TEST_BINARY [BENCH_BINARY]: runs inside the test guest.
# Loads the module, checks the device node, runs the functional selftests
# (and beside them, with CXXVM_REAL_DATA, the real vm_map_ram() callers
# of guest-real.sh), checks that the takeover holds the module, then the
# ioctl fuzzer (cxxvm-fuzz, beside TEST_BINARY) for
# CXXVM_FUZZ_OPS operations (default 50000) with seed CXXVM_FUZZ_SEED
# (default 1), the recorded traces of selftests/fixtures replayed through
# every backend (cxxvm-bench, beside TEST_BINARY), and with BENCH_BINARY a
# short contended section of the benchmark (every backend, every size, one
# thread per vCPU), after which nothing may be left mapped, allocated or
# waiting for a purge; unloads.  Speed is not
# checked.  CXXVM_CONTENDED_N: that section's cycles per cell (default
# 2000; the debug kernels' guests run fewer).
# Prints one TAP-style line per stage ("ok"/"not ok"); exits non-zero on
# any failure.
set -u
. "$(dirname "$0")/guest-lib.sh"
ko=$1 test=$2 bench=${3:-}
fail=0
stage() { # stage NAME STATUS
	if [ "$2" -eq 0 ]; then echo "ok stage $1"; else echo "not ok stage $1"; fail=1; fi
}

# Parameters out of range are refused at load, with a reason in the log and
# no warning (max_blocks past the bound used to WARN in kmalloc), and leave
# nothing loaded.
for bad in max_blocks=0 max_blocks=65537 max_blocks=4294967295 lazy_max_pages=63 \
	   reserved_mem=junk reserved_mem=4K reserved_mem=0@0x30000000 \
	   reserved_mem=4097@0x30000000 reserved_mem=1M@0xfed00000 reserved_mem=4K@0x0 \
	   reserved_mem=1G@0x0 takeover_block_pages=63 takeover_block_pages=513; do
	! insmod "$ko" "$bad" 2>/dev/null && ! grep -q '^cxxvm ' /proc/modules
	stage "insmod refuses $bad" $?
done

# A small arena with a low purge threshold: purges, slot reuse and a full
# arena then happen all through the tests (the defaults are what
# make bench measures).  The memory the host reserved on the guest's
# command line (memmap=SIZE$START) is given to the module by name.
reserved=$(reserved_mem_arg)
# shellcheck disable=SC2086 # empty without memmap=
insmod "$ko" lazy_max_pages=256 max_blocks=8 $reserved
rc=$?
stage insmod $rc
[ $rc -eq 0 ] || exit 1

mode=$(stat -c '%A %U' /dev/cxxvm 2>/dev/null)
[ "$mode" = "crw------- root" ]
stage "device_node_0600 ($mode)" $?

# The kernel's own vm_map_ram() callers (erofs, f2fs, XFS before 6.15)
# with the takeover off, observing and on, beside the selftests' stress
# (guest-real.sh), when the host prepared their files (CXXVM_REAL_DATA;
# CXXVM_REAL_KROOT: where modprobe finds the guest kernel's modules).
real_pid=
if [ -n "${CXXVM_REAL_DATA:-}" ]; then
	# shellcheck disable=SC2086 # empty, or one directory
	CXXVM_REAL_FLUSH=0 "$(dirname "$0")/guest-real.sh" "$CXXVM_REAL_DATA" \
		${CXXVM_REAL_KROOT:-} >/tmp/cxxvm-real.out 2>&1 &
	real_pid=$!
fi

"$test" 2>&1
stage selftests $?

if [ -n "$real_pid" ]; then
	wait "$real_pid"
	rc=$?
	cat /tmp/cxxvm-real.out
	stage "real callers of vm_map_ram() under takeover off, observe, on, beside the selftests" $rc
fi

# The takeover holds the module while it is active: takeover=on takes one
# reference, and off (nothing taken over is live any more) gives it back.
param=/sys/module/cxxvm/parameters/takeover
refs=/sys/module/cxxvm/refcnt
ref0=$(cat "$refs")
echo on >"$param"
ref1=$(cat "$refs")
msg=$(rmmod cxxvm 2>&1)
rc=$?
echo off >"$param"
[ "$rc" -ne 0 ] && grep -qi 'in use' <<<"$msg" && [ "$ref1" -eq $((ref0 + 1)) ] &&
	[ "$(cat "$refs")" -eq "$ref0" ] && grep -q '^cxxvm ' /proc/modules
stage "rmmod refused while the takeover is on (refcnt $ref0, $ref1, $(cat "$refs"): $msg)" $?

# An open file holds the module: rmmod is refused ("in use", not any
# failure) and changes nothing; closing it gives the reference back.
ref0=$(cat "$refs")
exec 3<>/dev/cxxvm
ref1=$(cat "$refs")
msg=$(rmmod cxxvm 2>&1)
rc=$?
ref2=$(cat "$refs")
exec 3>&-
[ "$rc" -ne 0 ] && grep -qi 'in use' <<<"$msg" && grep -q '^cxxvm ' /proc/modules &&
	[ -c /dev/cxxvm ] && [ "$ref1" -eq $((ref0 + 1)) ] && [ "$ref2" -eq "$ref1" ] &&
	[ "$(cat "$refs")" -eq "$ref0" ]
stage "rmmod refused while /dev/cxxvm is open (refcnt $ref0, $ref1, $ref2: $msg)" $?

# Three processes of two threads each, one of them SIGKILLed every 2 s
# and all of them together at the end.
fuzz=$(dirname "$test")/cxxvm-fuzz
"$fuzz" -n "${CXXVM_FUZZ_OPS:-50000}" -s "${CXXVM_FUZZ_SEED:-1}" -p 3 -j 2 2>&1
stage "fuzzer, nothing left behind" $?

# CPU hotplug under load: the last CPU goes offline and comes back while
# the fuzzer maps, unmaps and purges (the queues of an offline CPU keep
# their blocks; the others borrow, steal and purge them), this time as
# eight single-threaded processes, all SIGKILLed together at the end.  At
# least two full cycles, whatever the speed of the guest.
online=/sys/devices/system/cpu/cpu$(($(nproc --all) - 1))/online
if [ -w "$online" ]; then
	# -t: a bound for a fuzzer that stops making progress; timeout:
	# for a CPU that does not go offline or come back.
	"$fuzz" -n "$((${CXXVM_FUZZ_OPS:-50000} / 2))" -t 600 -s "$((${CXXVM_FUZZ_SEED:-1} + 1))" \
		-p 8 -j 1 >/tmp/cxxvm-hotplug.out 2>&1 &
	fpid=$!
	cycles=0 hp=0
	while { kill -0 "$fpid" 2>/dev/null || [ "$cycles" -lt 2 ]; } && [ "$hp" -eq 0 ]; do
		timeout 60 sh -c "echo 0 >$online" || hp=1
		sleep 0.5
		timeout 60 sh -c "echo 1 >$online" || hp=1
		sleep 0.5
		cycles=$((cycles + 1))
	done
	wait "$fpid"
	frc=$?
	cat /tmp/cxxvm-hotplug.out
	echo "# $online: $cycles offline/online cycles"
	[ "$frc" -eq 0 ] && [ "$hp" -eq 0 ]
	stage "fuzzer while a CPU goes offline and online" $?
else
	stage "CPU hotplug: no writable $online" 1
fi

# The recorded traces of real callers (selftests/fixtures, and what
# guest-real.sh observed in this guest), each replayed through every
# backend once (cxxvm-bench, beside TEST_BINARY): each must run to its end.
replays=()
for f in "$(dirname "$0")"/../fixtures/*.replay /tmp/cxxvm-real-*-observe.replay; do
	[ -f "$f" ] && replays+=(--replay "$f")
done
[ "${#replays[@]}" -gt 0 ] && "$(dirname "$test")/cxxvm-bench" -s replay -r 1 "${replays[@]}" 2>&1
stage "replay of the recorded traces (selftests/fixtures, this guest's)" $?

if [ -n "$bench" ]; then
	"$bench" -s contended -n "${CXXVM_CONTENDED_N:-2000}" -r 1 -w 256 --expect-clean 2>&1
	stage "contended bench, nothing left behind" $?
fi

rmmod cxxvm
stage rmmod $?
grep -q '^cxxvm ' /proc/modules
[ $? -ne 0 ]
stage module_gone $?
exit $fail
