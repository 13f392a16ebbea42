#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: install what is missing, build cxxvm.ko for Debian's stock
# 6.1 and 6.12 kernels, boot each kernel under TCG with vng, and run the
# functional selftests in it; compile against the next kernel line
# (next-kernel.sh); run the KUnit stage.  Ends with "N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/lib.sh"

t0=$(date +%s)
passed=0 failed=0 skipped=0
result() { # result ok|fail NAME
	if [ "$1" = ok ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		log "FAILED: $2"
	fi
}

log "host set-up: installing whatever is missing (apt; virtme-ng from trixie)"
rel612=$("$CXXVM_TOP/selftests/vm/host-setup.sh" | tail -n1) || die "host set-up failed"
rel61=$(stock_61_release)
[ -n "$rel61" ] || die "cannot tell which 6.1 kernel linux-image-amd64 installed"

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
		f=$(echo "$out" | grep -cE '^\[  FAILED  \] [A-Za-z].* \([0-9]+ ms\)$')
		passed=$((passed + ${n:-0}))
		failed=$((failed + f))
		[ "$rc" -eq 0 ] || result fail "hosted core, $v build: exit $rc"
	done
	# The libFuzzer harnesses, a short bounded run each (make fuzz: longer).
	if make -s -C "$CXXVM_TOP/selftests/hosted" fuzz-check >&2; then
		result ok "hosted core: libFuzzer harnesses (arena, tracker), 15 s each"
	else
		result fail "hosted core: a libFuzzer harness found a failure (selftests/hosted/build/crash-*)"
	fi
else
	result fail "hosted core does not build (selftests/hosted)"
fi

log "building the userspace selftests"
make -s -C "$CXXVM_TOP/selftests" >&2 || die "selftests do not build"

for rel in "$rel61" "$rel612"; do
	log "[$rel] building cxxvm.ko against /lib/modules/$rel/build"
	if ! ko=$(build_ko "$rel"); then
		result fail "build for $rel"
		continue
	fi
	result ok "build for $rel"

	log "[$rel] booting /boot/vmlinuz-$rel under TCG (vng --disable-kvm, ~30 s) for the selftests"
	out=$CXXVM_BUILD/$rel/check.out
	console=$CXXVM_BUILD/$rel/console.log
	# 256 MiB of the guest's RAM (two memory sections at 768 MiB)
	# reserved on its command line for the pagemap tests: memory no
	# driver owns, that memremap() and memremap_pages() may use.
	vng_run "/boot/vmlinuz-$rel" "$console" --append "memmap=256M\$0x30000000" -- \
		"$CXXVM_TOP/selftests/vm/guest-check.sh" "$ko" \
		"$CXXVM_TOP/selftests/cxxvm-test" | tee "$out"
	rc=${PIPESTATUS[0]}

	# TAP lines of the harness and of guest-check.sh's stages.
	ok=$(grep -cE '^ok ' "$out" | head -n1)
	skip=$(grep -cE '^ok .*# SKIP' "$out" | head -n1)
	notok=$(grep -cE '^not ok ' "$out" | head -n1)
	passed=$((passed + ok - skip))
	skipped=$((skipped + skip))
	failed=$((failed + notok))
	grep -E '^not ok |^ok .*# SKIP' "$out" | sed "s/^/[cxxvm] [$rel] /" >&2

	if [ "$rc" -eq 0 ]; then
		result ok "[$rel] guest run and console"
	else
		result fail "[$rel] guest run exited $rc or its console shows a report ($console)"
	fi
done

log "next kernel: compile-only against sid's linux-source-7.2 (the memremap API drift)"
if "$CXXVM_TOP/selftests/vm/next-kernel.sh"; then
	result ok "compile for the next kernel line; feature probes pick its forms"
else
	result fail "compile for the next kernel line (selftests/vm/next-kernel.sh)"
fi

log "KUnit: the test kernel (built once, then cached) and the suites in it"
kout=$CXXVM_BUILD/kunit.out
"$CXXVM_TOP/selftests/vm/kunit.sh" | tee "$kout"
krc=${PIPESTATUS[0]}
kline=$(grep -E '^kunit: [0-9]+ passed, [0-9]+ failed$' "$kout" | tail -n1)
if [ -n "$kline" ]; then
	read -r kpassed kfailed < <(echo "$kline" | sed -E 's/^kunit: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/')
	passed=$((passed + kpassed))
	failed=$((failed + kfailed))
fi
if [ "$krc" -eq 0 ] && [ -n "$kline" ]; then
	result ok "KUnit stage"
else
	result fail "KUnit stage (exit $krc)"
fi

log "make check took $(($(date +%s) - t0)) s"
if [ "$skipped" -gt 0 ]; then
	log "$skipped skipped: a skipped test is not a pass"
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ]
