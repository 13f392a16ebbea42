#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# guest-kunit.sh KO KUNIT_KO [TEST_BINARY BENCH_BINARY FAULTS_BINARY]:
# runs inside the KUnit test kernel.  Loads cxxvm.ko, then cxxvm_kunit.ko
# (its suites run as it loads), prints the kernel log (with the suites'
# KTAP) between marker lines, and unloads both; with TEST_BINARY, runs
# guest-check.sh (the functional selftests, the fuzzer and the short
# contended bench) and then FAULTS_BINARY (every ioctl under injected
# allocation failures) and cxxvm-fuzz with failslab and fail_page_alloc
# aimed at its own threads, with the module loaded again, TAP lines on
# stdout; then prints what kmemleak finds.  Exits non-zero if a step could not run or failed.
set -u
. "$(dirname "$0")/guest-lib.sh"
ko=$1 kunit_ko=$2 test=${3:-} bench=${4:-} faults=${5:-}
fail=0
# kunit.sh boots the guest again only if this line never came out.
echo "---- guest-kunit start ----"

# Forget what boot left behind, so only our leaks are reported.  A
# kmemleak that cannot be driven fails the run (no end marker is printed).
kmemleak_clear || exit 1

insmod "$ko" || exit 1
insmod "$kunit_ko" || exit 1
# The console has the whole KTAP; /sys/kernel/debug/kunit/*/results keeps
# only the last line of a parameterized case.
echo "---- dmesg begin ----"
dmesg -t
echo "---- dmesg end ----"
rmmod cxxvm_kunit || exit 1
rmmod cxxvm || exit 1

# The whole ioctl ABI under KASAN, lockdep and kmemleak, as on the stock
# kernels (its own insmod, with the reservation on the command line).
if [ -n "$test" ]; then
	echo "---- selftests begin ----"
	# A tenth of the stock kernels' contended cycles: 2000 took 7.5
	# minutes in the 6.1 debug guest (TCG, a kernel build beside it).
	CXXVM_CONTENDED_N=200 CXXVM_FUZZ_OPS=${CXXVM_FUZZ_OPS:-10000} \
		"$(dirname "$0")/guest-check.sh" "$ko" "$test" "$bench" || fail=1
	if [ -n "$faults" ]; then
		# shellcheck disable=SC2046 # empty without memmap=
		insmod "$ko" $(reserved_mem_arg) || exit 1
		"$faults" 2>&1 || fail=1
		# The fuzzer with one allocation in ten failing in its threads.
		"$(dirname "$test")/cxxvm-fuzz" -n "${CXXVM_FUZZ_OPS:-10000}" \
			-s "${CXXVM_FUZZ_SEED:-1}" -p 2 -j 2 -f 10 2>&1 || fail=1
		rmmod cxxvm || exit 1
	fi
	echo "---- selftests end ----"
fi

kmemleak_report || exit 1
exit $fail
