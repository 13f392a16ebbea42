#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# guest-fuzz.sh KO FUZZ_BINARY FUZZ_ARGS...: runs inside a guest (make
# fuzz-kernel).  Loads the module with a small arena (purges, steals and a
# full arena all through the run) and the memory the host reserved, runs
# cxxvm-fuzz with FUZZ_ARGS, unloads; on a kernel with kmemleak, scans
# after rmmod and prints what it finds between marker lines.  TAP-style
# lines on stdout; exits non-zero if a step failed.
set -u
. "$(dirname "$0")/guest-lib.sh"
ko=$1 fuzz=$2
shift 2
fail=0
echo "---- guest-fuzz start ----"
if [ -e "$CXXVM_KMEMLEAK" ]; then
	kmemleak_clear || exit 1
fi
# shellcheck disable=SC2046 # empty without memmap=
insmod "$ko" lazy_max_pages=256 max_blocks=8 $(reserved_mem_arg) || exit 1
"$fuzz" "$@" 2>&1 || fail=1
rmmod cxxvm || exit 1
if [ -e "$CXXVM_KMEMLEAK" ]; then
	kmemleak_report || exit 1
fi
echo "---- guest-fuzz end ----"
exit $fail
