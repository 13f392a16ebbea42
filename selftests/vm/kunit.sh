#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kunit.sh [LINE | LABEL TREE IMAGE]: build the KUnit test kernel of LINE
# (6.1 or 7.2, test-kernel.sh; cached), or take a user's built TREE and its
# IMAGE, build cxxvm.ko and cxxvm_kunit.ko against it, boot it with vng and
# run the suites; then, in the same guest, the functional selftests and
# the short contended bench that check.sh runs on the stock kernels
# (guest-check.sh), so that the whole ioctl ABI runs under KASAN, lockdep
# and kmemleak too, and cxxvm-faults (every ioctl under failslab and
# fail_page_alloc).  Prints "kunit: N passed, N failed" last (KUnit cases
# and selftests); exits non-zero on a failed or crashed case or selftest,
# a console report (oops, WARNING, BUG, lockdep, KASAN), a kmemleak report,
# or KTAP that the kernel's kunit.py cannot parse.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

label=${1:-6.1}
if [ $# -ge 3 ]; then
	tree=$2 image=$3
	grep -qx 'CONFIG_KUNIT=y' "$tree/.config" || die "kunit: $tree has no CONFIG_KUNIT=y"
else
	tree=$("$CXXVM_TOP/selftests/vm/test-kernel.sh" "$label") || die "no test kernel"
	image=$tree/arch/x86/boot/bzImage
fi
dir=$CXXVM_BUILD/kunit-$label
rm -rf "$dir"
copy_sources "$dir"
cp -a "$CXXVM_TOP/selftests/kunit" "$dir/kunit"
log "kunit [$label]: building cxxvm.ko and cxxvm_kunit.ko against $tree"
kbuild_clean "$tree" "$dir" CXXVM_KUNIT=1
kbuild_clean "$tree" "$dir/kunit" cxxvm_top="$dir" \
	KBUILD_EXTRA_SYMBOLS="$dir/Module.symvers"
make -s -C "$CXXVM_TOP/selftests" >&2 || die "kunit: the userspace selftests do not build"
# The files guest-real.sh reads back through erofs, f2fs and XFS; under
# KASAN the debug guest reads back only two directories of them (51 files),
# or the stage would take most of the guest's time.
real=$(real_data)

# The names of vng's virtio-serial ports: udev makes them, but on these
# kernels under TCG "udevadm settle" gives up (120 s) before udev gets to
# them whenever the host is busy, and virtme-init then finds no ports and
# runs nothing (CI's 6.1 guest, three boots in a row).  So the guest gets a
# copy of virtme-ng's guest directory whose virtme-sshd-script makes the
# links instead (selftests/vm/guest-init/), mounted over the real one, and
# "virtme.ssh", which has virtme-init run that script just before it looks.
vguest=$(virtme_guest_copy "$dir/virtme-guest") || exit 1
#
# Two retries, only for a guest that never started guest-kunit.sh (which
# loads cxxvm.ko), whatever its console shows, and that loaded no cxxvm
# module (cxxvm_touched, a safety net): no test ran, and nothing of
# cxxvm's crashed.
# Under a slow TCG host the debug kernel's udev once took 4 minutes to
# settle and virtme-init then found no virtio-serial port for the script
# ("cannot find script I/O ports"), so nothing ran; and the 7.2 debug
# kernel once oopsed at 9 s, on an int3 in __timekeeping_advance() right
# after switching to the TSC clocksource (the kernel patching its own text
# under TCG, as stock 7.2 guests with 4 vCPUs do at boot about once in
# ten: check.sh).  A failed attempt's console is kept as console-bootN.log.
#
# 2400 s, not vng_run's 900: the debug kernels' bash virtme-init (Debian's
# virtme-ng has no virtme-ng-init) spends most of a boot in mounts and
# udev.  One 6.1 guest on a busy host took 600 s to reach the script, ran
# every case by 790 s, and was killed at 900 s in its kmemleak scan; with
# the real workloads a 7.2 guest beside two others ran every case by
# 810 s and was still in f2fs at 1500 s.
# 1 GiB of RAM, not 2: less for KASAN's shadow, the memmap and each
# kmemleak scan to set up and walk; no suite needs more.  Its top 256 MiB
# are reserved on the command line for the selftests' pagemaps, as
# check.sh does.
out=$dir/guest.out
for attempt in 1 2 3; do
	log "kunit [$label]: booting $image under TCG (KASAN, lockdep, kmemleak: a few minutes)"
	CXXVM_VM_TIMEOUT=${CXXVM_VM_TIMEOUT:-2400} CXXVM_VM_MEMORY=${CXXVM_VM_MEMORY:-1G} \
		vng_run "$image" "$dir/console.log" --append "memmap=256M\$0x30000000 virtme.ssh" \
		--rodir "$vguest=$dir/virtme-guest" -- \
		env CXXVM_REAL_DATA="$real" "CXXVM_REAL_ONLY='erofs f2fs'" \
		"$CXXVM_TOP/selftests/vm/guest-kunit.sh" "$dir/cxxvm.ko" \
		"$dir/kunit/cxxvm_kunit.ko" "$CXXVM_TOP/selftests/cxxvm-test" \
		"$CXXVM_TOP/selftests/cxxvm-bench" "$CXXVM_TOP/selftests/cxxvm-faults" >"$out"
	rc=$?
	if [ "$rc" -eq 0 ] || [ "$attempt" -eq 3 ] ||
	   grep -q '^---- guest-kunit start' "$out" ||
	   cxxvm_touched "$dir/console.log"; then
		break
	fi
	cp "$dir/console.log" "$dir/console-boot$attempt.log"
	log "kunit [$label]: that guest never started its script (a boot failure, not cxxvm's; console-boot$attempt.log): once more"
done

# One KTAP document for kunit.py: the module's suites, cut from the kernel
# log (from the header of the first cxxvm_ suite to the result line of the
# last), keeping only KTAP-shaped lines, under a header of their own.
ktap=$dir/results.ktap
sed -n '/^---- dmesg begin/,/^---- dmesg end/p' "$out" | sed '1d;$d' >"$dir/dmesg.txt"
first=$(grep -n '^    # Subtest: cxxvm_' "$dir/dmesg.txt" | head -n1 | cut -d: -f1)
last=$(grep -nE '^(not )?ok [0-9]+ cxxvm_' "$dir/dmesg.txt" | tail -n1 | cut -d: -f1)
nsuites=0
if [ -n "$first" ] && [ -n "$last" ]; then
	nsuites=$(sed -n "$((first - 1)),${last}p" "$dir/dmesg.txt" |
		  grep -cE '^(not )?ok [0-9]+ cxxvm_')
fi
{
	echo "KTAP version 1"
	echo "1..$nsuites"
	[ "$nsuites" -eq 0 ] ||
	sed -n "$((first - 1)),${last}p" "$dir/dmesg.txt" |
		grep -E '^( |#|ok |not ok |KTAP version)' |
		awk '/^(not )?ok [0-9]+ cxxvm_/ { n++; sub(/ok [0-9]+ /, "ok " n " ") } { print }'
} >"$ktap"
cat "$ktap"

# Counted by the kernel's own kunit.py: every leaf test, each parameter of
# a parameterized case on its own ("Testing complete. Ran N tests: passed:
# P, failed: F, ..."). Not from the suites' "# Totals:" lines: KUnit prints
# those only for a suite of more than one test.  A skipped test is not a
# pass, and a crashed test or a KTAP error fails: all count as failed.
parsed=$(python3 "$tree/tools/testing/kunit/kunit.py" parse "$ktap" 2>&1)
prc=$?
printf '%s\n' "$parsed" | tail -n 4
summary=$(printf '%s\n' "$parsed" | sed -n 's/.*Testing complete\. Ran [0-9]* tests*: //p' | tail -n1)
count() { # count STATUS: its figure in kunit.py's summary, 0 if absent
	local n
	n=$(printf '%s\n' "$summary" | tr ',' '\n' | sed -n "s/^ *$1: \([0-9]*\)$/\1/p" | head -n1)
	echo "${n:-0}"
}
passed=$(count passed)
skipped=$(count skipped)
failed=$(( $(count failed) + $(count crashed) + $(count errors) + skipped ))
[ "$skipped" -eq 0 ] || log "kunit: $skipped skipped tests count as failed"
if [ -z "$summary" ]; then
	log "kunit: kunit.py printed no summary (exit $prc)"
	failed=$((failed + 1))
elif [ "$prc" -ne 0 ] && [ "$failed" -eq 0 ]; then
	log "kunit: kunit.py parse exited $prc though every test passed"
	failed=1
fi
# A "not ok" that kunit.py did not count still fails.
if [ "$failed" -eq 0 ] && grep -qE '^ *not ok ' "$ktap"; then
	failed=1
fi
# As many suites as the kunit_test_suites() lines of the module's sources list.
expected=$(grep -h '^kunit_test_suites(' -A3 "$CXXVM_TOP"/selftests/kunit/*.c |
	   grep -o '&cxxvm_[a-z_]*_suite' | sort -u | wc -l)
if [ "$nsuites" -ne "$expected" ]; then
	log "kunit: expected $expected suites, the guest printed $nsuites"
	failed=$((failed + 1))
fi

# The selftests and guest-check.sh's stages, counted as check.sh counts
# them on the stock kernels; a skip counts as failed here too.
if grep -q '^---- selftests end' "$out"; then
	sed -n '/^---- selftests begin/,/^---- selftests end/p' "$out" >"$dir/selftests.out"
	read -r sok snotok sskip < <(tap_tally "$dir/selftests.out" "kunit $label")
	log "kunit [$label]: selftests in the debug kernel: $sok passed, $snotok failed, $sskip skipped"
	passed=$((passed + sok))
	failed=$((failed + snotok + sskip))
else
	log "kunit [$label]: the selftests did not run to the end in the debug kernel"
	failed=$((failed + 1))
fi

failed=$((failed + $(kmemleak_failures "$out" "$dir/console.log" "kunit $label")))
if [ "$rc" -ne 0 ]; then
	log "kunit: guest run exited $rc or its console shows a report ($dir/console.log)"
	failed=$((failed + 1))
fi
echo "kunit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
