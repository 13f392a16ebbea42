#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fuzz.sh [SECONDS] (make fuzz-kernel SECONDS=N): run cxxvm-fuzz for
# SECONDS (default 600) in each stock kernel of CXXVM_KERNELS (default
# "7.2", "" for none) and then in each debug test kernel of CXXVM_KUNIT_KERNELS
# (default "7.2", "" for none; KASAN, lockdep, kmemleak, UBSAN; built once and cached
# by test-kernel.sh), one guest at a time, under TCG.  CXXVM_FUZZ_ARGS
# adds cxxvm-fuzz options (a seed: "-s 0x1234"; "-p 3 -j 2");
# CXXVM_FUZZ_FAIL=PERCENT fails that share of the allocations of the
# fuzzer's ioctls in the debug kernels (-f; stock kernels have no fault
# injection).  A guest fails on a bug the fuzzer saw, anything left
# behind, a console report, or a kmemleak report.  Prints
# "fuzz-kernel: N passed, N failed" last.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

secs=${1:-600}
[[ "$secs" =~ ^[1-9][0-9]*$ ]] || die "fuzz-kernel: SECONDS must be a positive number"
"$CXXVM_TOP/selftests/vm/host-setup.sh" >/dev/null || die "host set-up failed"
make -s -C "$CXXVM_TOP/selftests" cxxvm-fuzz >&2 || die "cxxvm-fuzz does not build"
fuzz=$CXXVM_TOP/selftests/cxxvm-fuzz
# shellcheck disable=SC2206 # options, split on purpose
fargs=(-t "$secs" ${CXXVM_FUZZ_ARGS:-})
passed=0 failed=0

# tally OUT LABEL RC [CONSOLE]: the guest's TAP lines, a kmemleak report
# (with CONSOLE, a debug kernel's: kmemleak must also have run to the end
# and not disabled itself), its exit.
tally() {
	local ok notok skip
	read -r ok notok skip < <(tap_tally "$1" "fuzz $2")
	passed=$((passed + ok))
	failed=$((failed + notok + skip))
	grep -E '^# [0-9]+ operations|^# [A-Z_()a-z ]+ +ok=|^# left:|^# allocator:' "$1" |
		sed "s/^/[cxxvm] [$2] /" >&2
	# Each bug the fuzzer printed, even one a SIGKILL kept from its count.
	if grep -q '^# BUG:' "$1"; then
		grep '^# BUG:' "$1" | sort | uniq -c | sort -rn | head -n 20 | sed "s/^/[cxxvm] [$2] /" >&2
		failed=$((failed + 1))
	fi
	if [ -n "${4:-}" ]; then
		failed=$((failed + $(kmemleak_failures "$1" "$4" "$2")))
	fi
	if ! grep -q '^---- guest-fuzz end' "$1"; then
		log "[$2] the fuzzer did not run to the end"
		failed=$((failed + 1))
	elif [ "$3" -ne 0 ]; then
		log "[$2] guest exited $3 or its console shows a report"
		failed=$((failed + 1))
	fi
}

[ -n "${CXXVM_KERNELS-7.2}${CXXVM_KUNIT_KERNELS-7.2}" ] ||
	die "fuzz-kernel: CXXVM_KERNELS and CXXVM_KUNIT_KERNELS are both empty"
kernels=
if [ -n "${CXXVM_KERNELS-7.2}" ]; then
	kernels=$(CXXVM_KERNELS=${CXXVM_KERNELS:-7.2} guest_kernels) || die "no guest kernels"
fi
while read -r label image kdir; do
	[ -n "$label" ] || continue
	ko=$(build_ko "fuzz-$label" "$kdir") || exit 1
	out=$CXXVM_BUILD/fuzz-$label/fuzz.out
	log "[$label] booting $image under TCG: cxxvm-fuzz ${fargs[*]}"
	CXXVM_VM_TIMEOUT=$((secs + 900)) \
		vng_run "$image" "$CXXVM_BUILD/fuzz-$label/console.log" \
		--append "memmap=256M\$0x30000000" -- \
		"$CXXVM_TOP/selftests/vm/guest-fuzz.sh" "$ko" "$fuzz" "${fargs[@]}" </dev/null | tee "$out"
	tally "$out" "$label" "${PIPESTATUS[0]}"
done <<<"$kernels"

for line in ${CXXVM_KUNIT_KERNELS-7.2}; do
	label=$line-debug
	tree=$("$CXXVM_TOP/selftests/vm/test-kernel.sh" "$line") || die "no test kernel"
	dir=$CXXVM_BUILD/fuzz-$label
	rm -rf "$dir"
	copy_sources "$dir"
	kbuild_clean "$tree" "$dir"
	vguest=$(virtme_guest_copy "$dir/virtme-guest") || exit 1
	out=$dir/fuzz.out
	log "[$label] booting the debug test kernel under TCG (a few minutes to boot): cxxvm-fuzz ${fargs[*]}"
	# 1500 s to boot and scan, as kunit.sh allows; see there for virtme.ssh.
	CXXVM_VM_TIMEOUT=$((secs + 1500)) CXXVM_VM_MEMORY=1G \
		vng_run "$tree/arch/x86/boot/bzImage" "$dir/console.log" \
		--append "memmap=256M\$0x30000000 virtme.ssh" --rodir "$vguest=$dir/virtme-guest" -- \
		"$CXXVM_TOP/selftests/vm/guest-fuzz.sh" "$dir/cxxvm.ko" "$fuzz" "${fargs[@]}" \
		${CXXVM_FUZZ_FAIL:+-f "$CXXVM_FUZZ_FAIL"} </dev/null |
		tee "$out"
	tally "$out" "$label" "${PIPESTATUS[0]}" "$dir/console.log"
done

echo "fuzz-kernel: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
