#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: install what is missing; checkpatch and kernel-doc; the
# hosted C++ core (googletest plain/ASan/TSan, clang -Wthread-safety,
# libFuzzer); spin over the purge protocol's model; build cxxvm.ko
# for Debian's stock 6.1, 6.12 and sid's 7.2 (sid-kernel.sh), boot each
# under TCG with vng and run the functional selftests, the ioctl fuzzer and
# the fuzzer under CPU hotplug in it (guest-check.sh), with erofs, f2fs
# and XFS (before 6.15) mapping through the kernel's vm_map_ram() and
# through cxx's takeover of it beside the selftests (guest-real.sh); then
# the KUnit suites, the same, cxxvm-faults and the fuzzer with failing allocations
# in the 7.2 debug test kernel.
# Ends with "N passed, N failed".
#
#   CXXVM_KERNELS="7.2"        only these stock lines (default "6.1 6.12 7.2")
#   CXXVM_KUNIT_KERNELS="6.1 7.2"  these test kernels (default "7.2": the
#                              6.1 one adds about 25 minutes on a fresh
#                              machine, most of it building that kernel)
#   CXXVM_KERNEL=IMAGE CXXVM_KDIR=TREE  (make check KERNEL=... KDIR=...):
#                              instead, a kernel of the user's own; KUnit
#                              runs in it if the tree has CONFIG_KUNIT=y
set -uo pipefail
. "$(dirname "$0")/lib.sh"

t0=$(date +%s)
passed=0 failed=0 skipped=0
# What failed, printed again just above the totals: a run's last lines are
# often all that is kept of it (a CI log's tail).
summary=()
result() { # result ok|fail NAME
	if [ "$1" = ok ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		summary+=("FAILED: $2")
		log "FAILED: $2"
	fi
}

# summarize PREFIX: the first 10 lines of stdin, 160 characters each,
# into the summary, each after PREFIX.  Not at the end of a pipeline (a
# subshell there would lose them): summarize P < <(command).
summarize() {
	local line
	while IFS= read -r line; do
		summary+=("$1${line:0:160}")
	done < <(head -n 10)
}

# guest_failed OUT CONSOLE RC: for the summary, how a failed guest ended:
# its exit, the last TAP line it printed, and the first lines of its
# console's report (lib.sh's CXXVM_BAD_CONSOLE, with the RIP).
guest_failed() {
	summary+=("  exit $3$([ "$3" -ne 124 ] || echo ": timed out"); last TAP line: $(grep -E '^(not )?ok ' "$1" | tail -n1 | cut -c1-120)")
	summarize "  console: " < <(grep -m8 -E "$CXXVM_BAD_CONSOLE|RIP: |cxxvm: TLB shootdown" "$2")
}

log "host set-up: installing whatever is missing (apt; virtme-ng from trixie)"
"$CXXVM_TOP/selftests/vm/host-setup.sh" >/dev/null || die "host set-up failed"
kernels=$(guest_kernels) || die "no guest kernels"

log "kernel style: checkpatch.pl and kernel-doc on the C sources"
if style_check; then result ok "checkpatch and kernel-doc"; else result fail "checkpatch or kernel-doc (see above)"; fi

log "hosted core: googletest suites of the C++ core in userspace, plain, ASan+UBSan, TSan"
if make -s -j"$(nproc)" -C "$CXXVM_TOP/selftests/hosted" all >&2; then
	# Each test of each build counts; a sanitizer abort fails the build's run.
	for v in plain asan tsan; do
		out=$(make -s -C "$CXXVM_TOP/selftests/hosted" "$v" 2>&1)
		rc=$?
		echo "$out" | sed "s/^/[hosted $v] /" >&2
		n=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) tests*\..*/\1/p')
		fails=$(echo "$out" | grep -E '^\[  FAILED  \] [A-Za-z].* \([0-9]+ ms\)$')
		f=$(grep -c . <<<"$fails")
		passed=$((passed + ${n:-0}))
		failed=$((failed + f))
		[ -z "$fails" ] || summarize "[hosted $v] " <<<"$fails"
		[ "$rc" -eq 0 ] || result fail "hosted core, $v build: exit $rc"
	done
	# Clang's thread-safety analysis: the lock rules the core's comments
	# state, checked at compile time (module/core/thread_safety.h).
	if make -s -C "$CXXVM_TOP/selftests/hosted" thread-safety >&2; then
		result ok "hosted core: clang -Wthread-safety over the core"
	else
		result fail "hosted core: clang -Wthread-safety found a lock rule broken (above)"
	fi
	# The libFuzzer harnesses, a short bounded run each (make fuzz: longer).
	if make -s -C "$CXXVM_TOP/selftests/hosted" fuzz-check >&2; then
		result ok "hosted core: libFuzzer harnesses (arena, tracker), 15 s each"
	else
		result fail "hosted core: a libFuzzer harness found a failure (selftests/hosted/build/crash-*)"
	fi
else
	result fail "hosted core does not build (selftests/hosted)"
fi

# The purge protocol model-checked: spin verifies module/core/purge_model.pml
# (no stale reuse, no early free, every dirty slot freed) and finds the bug
# in each of its mutations.  Each TAP line counts.
log "purge protocol: spin over module/core/purge_model.pml (about three minutes)"
mout=$CXXVM_BUILD/model.out
mkdir -p "$CXXVM_BUILD"
make -s -C "$CXXVM_TOP/selftests/model" check >"$mout" 2>&1
mrc=$?
sed 's/^/[model] /' "$mout" >&2
read -r mok mnotok mskip < <(tap_tally "$mout" model)
passed=$((passed + mok))
failed=$((failed + mnotok + mskip))
summarize "[model] " < <(tap_problems "$mout")
if [ "$mrc" -ne 0 ] && [ "$mnotok" -eq 0 ]; then
	result fail "spin model check exited $mrc (see above)"
fi

log "building the userspace selftests"
make -s -C "$CXXVM_TOP/selftests" >&2 || die "selftests do not build"

# count_tap OUT LABEL: add the TAP lines of the harness and of
# guest-check.sh's stages in OUT to the totals; echo the failed and skipped.
count_tap() {
	local p f s
	read -r p f s < <(tap_tally "$1" "$2")
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	summarize "[$2] " < <(tap_problems "$1")
}

log "the real workloads' files: sources, checksums, an LZ4 erofs image (once, in build/real)"
real=$(real_data)

while read -r label image kdir; do
	log "[$label] building cxxvm.ko against $kdir (modpost checks every import)"
	if ! ko=$(build_ko "$label" "$kdir"); then
		result fail "build for $label"
		continue
	fi
	result ok "build for $label"
	clabel=$label cimage=$image cko=$ko
	if [ -z "${guard_checked:-}" ]; then
		# Kbuild refuses a kernel that is not x86-64, with its reason:
		# the same tree, CONFIG_X86_64 overridden to unset.
		guard_checked=1
		if guard=$(make -s -C "$kdir" M="$(dirname "$ko")" CONFIG_X86_64= modules 2>&1) ||
		   ! grep -q 'cxxvm: builds only for x86-64 kernels' <<<"$guard"; then
			echo "$guard" | tail -n 5 >&2
			result fail "Kbuild's x86-64 guard: a non-x86-64 config was not refused"
		else
			result ok "Kbuild's x86-64 guard refuses a non-x86-64 config"
		fi
	fi

	log "[$label] booting $image under TCG (vng --disable-kvm, ~30-60 s) for the selftests"
	out=$CXXVM_BUILD/$label/check.out
	console=$CXXVM_BUILD/$label/console.log
	# 256 MiB of the guest's RAM (two memory sections at 768 MiB)
	# reserved on its command line for the pagemap tests: memory no
	# driver owns, that memremap() and memremap_pages() may use.
	# Two retries, only for a guest that died before it loaded cxxvm.ko
	# (cxxvm_touched), as for the contended guest below (the kernel
	# patching its own text under TCG can oops at boot, no module loaded),
	# and not for one that timed out: three 900 s hangs would take most of
	# CI's time.  A failed
	# attempt's console is kept as console-bootN.log.
	for attempt in 1 2 3; do
		# shellcheck disable=SC2046 # one vng option or none; "env" words
		vng_run "$image" "$console" --append "memmap=256M\$0x30000000" \
			$(real_kroot_opt "$image") -- $(real_env "$image" "$real") \
			"$CXXVM_TOP/selftests/vm/guest-check.sh" "$ko" \
			"$CXXVM_TOP/selftests/cxxvm-test" </dev/null | tee "$out"
		rc=${PIPESTATUS[0]}
		if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || [ "$attempt" -eq 3 ] ||
		   cxxvm_touched "$console"; then
			break
		fi
		cp "$console" "$CXXVM_BUILD/$label/console-boot$attempt.log"
		log "[$label] that guest died before cxxvm.ko was loaded (a boot failure, not cxxvm's): once more"
	done

	count_tap "$out" "$label"
	grep -m1 -o 'cxxvm: loaded: .*' "$console" | sed "s/^/[cxxvm] [$label] /" >&2

	if [ "$rc" -eq 0 ]; then
		result ok "[$label] guest run and console"
	else
		result fail "[$label] guest run exited $rc or its console shows a report ($console)"
		guest_failed "$out" "$console" "$rc"
	fi
done <<<"$kernels"

# Contention on purpose: the last line that built again (the newest, or the
# user's kernel) with twice as many vCPUs as the host has CPUs, so that vCPUs are
# preempted while they hold locks or wait for IPIs.  The selftests, then a
# short contended bench of every backend that must leave nothing behind.
# Speed is not checked here.
#
# Two retries, only for a guest that died before cxxvm.ko was loaded: stock
# 7.2 guests with 4 vCPUs under TCG oops at boot about once in ten (int3 in
# ktime_get_ts64 or sched_clock_cpu while the kernel patches its own text,
# no module loaded), and once one hung at 1.5 s.  So this guest gets 600 s,
# not 900 (it needs about 4 min), unless CXXVM_VM_TIMEOUT says otherwise.
# A failed attempt's console is kept as contended-console-bootN.log.
ccpus=$((2 * $(nproc)))
if [ -n "${cko:-}" ]; then
	out=$CXXVM_BUILD/$clabel/contended.out
	console=$CXXVM_BUILD/$clabel/contended-console.log
	for attempt in 1 2 3; do
		log "[$clabel] booting it again with $ccpus vCPUs on $(nproc) host CPUs: selftests and a short contended bench"
		CXXVM_VM_TIMEOUT=${CXXVM_VM_TIMEOUT:-600} CXXVM_VM_CPUS=$ccpus \
			vng_run "$cimage" "$console" --append "memmap=256M\$0x30000000" -- \
			"$CXXVM_TOP/selftests/vm/guest-check.sh" "$cko" \
			"$CXXVM_TOP/selftests/cxxvm-test" "$CXXVM_TOP/selftests/cxxvm-bench" </dev/null | tee "$out"
		rc=${PIPESTATUS[0]}
		if [ "$rc" -eq 0 ] || [ "$attempt" -eq 3 ] || cxxvm_touched "$console"; then
			break
		fi
		cp "$console" "$CXXVM_BUILD/$clabel/contended-console-boot$attempt.log"
		log "[$clabel] that guest died before cxxvm.ko was loaded (a boot failure, not cxxvm's): once more"
	done
	count_tap "$out" "$clabel, $ccpus vCPUs"
	if [ "$rc" -eq 0 ]; then
		result ok "[$clabel, $ccpus vCPUs] contended guest run and console"
	else
		result fail "[$clabel, $ccpus vCPUs] contended guest run exited $rc or its console shows a report ($console)"
		guest_failed "$out" "$console" "$rc"
	fi
fi

# KUnit: the debug test kernel of the current line (7.2; 6.1 too with
# CXXVM_KUNIT_KERNELS), or the user's own tree when it has CONFIG_KUNIT=y.
if [ -n "${CXXVM_KERNEL:-}" ]; then
	if grep -qx 'CONFIG_KUNIT=y' "$CXXVM_KDIR/.config"; then
		kruns=("own $CXXVM_KDIR $CXXVM_KERNEL")
	else
		log "KUnit: $CXXVM_KDIR has no CONFIG_KUNIT=y, so no KUnit stage for this kernel"
		kruns=()
	fi
else
	kruns=()
	for k in ${CXXVM_KUNIT_KERNELS:-7.2}; do kruns+=("$k"); done
fi
for krun in "${kruns[@]}"; do
	klabel=${krun%% *}
	log "KUnit [$klabel]: the test kernel (built once, then cached) and the suites in it"
	kout=$CXXVM_BUILD/kunit-$klabel.out
	# shellcheck disable=SC2086 # "LINE" or "LABEL TREE IMAGE"
	"$CXXVM_TOP/selftests/vm/kunit.sh" $krun </dev/null | tee "$kout"
	krc=${PIPESTATUS[0]}
	kline=$(grep -E '^kunit: [0-9]+ passed, [0-9]+ failed$' "$kout" | tail -n1)
	if [ -n "$kline" ]; then
		read -r kpassed kfailed < <(echo "$kline" | sed -E 's/^kunit: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/')
		passed=$((passed + kpassed))
		failed=$((failed + kfailed))
	fi
	if [ "$krc" -eq 0 ] && [ -n "$kline" ]; then
		result ok "KUnit stage [$klabel]"
	else
		result fail "KUnit stage [$klabel] (exit $krc)"
		summarize "  " < <(grep -E '^[[:space:]]*not ok |\[FAILED\]' "$kout")
	fi
done

log "make check took $(($(date +%s) - t0)) s"
if [ "${#summary[@]}" -gt 0 ]; then
	log "what failed (details above):"
	printf '%s\n' "${summary[@]}" | head -n 60 | sed 's/^/[cxxvm]   /' >&2
fi
if [ "$skipped" -gt 0 ]; then
	log "$skipped skipped: a skipped test is not a pass"
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ]
