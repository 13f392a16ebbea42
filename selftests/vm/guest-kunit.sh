#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# guest-kunit.sh KO KUNIT_KO: runs inside the KUnit test kernel.  Loads
# cxxvm.ko, then cxxvm_kunit.ko (its suites run as it loads), prints the
# kernel log (with the suites' KTAP) between marker lines, unloads both,
# and prints what kmemleak finds.
set -u
ko=$1 kunit_ko=$2
# kunit.sh boots the guest again only if this line never came out.
echo "---- guest-kunit start ----"
leaks=/sys/kernel/debug/kmemleak

# Forget what boot left behind, so only our leaks are reported.  A
# kmemleak that cannot be driven fails the run (no end marker is printed).
echo scan >"$leaks" || exit 1
echo clear >"$leaks" || exit 1

insmod "$ko" || exit 1
insmod "$kunit_ko" || exit 1
# The console has the whole KTAP; /sys/kernel/debug/kunit/*/results keeps
# only the last line of a parameterized case.
echo "---- dmesg begin ----"
dmesg -t
echo "---- dmesg end ----"
rmmod cxxvm_kunit || exit 1
rmmod cxxvm || exit 1

# kmemleak reports objects older than 5 s only.
sleep 6
echo scan >"$leaks" || exit 1
echo scan >"$leaks" || exit 1
echo "---- kmemleak begin ----"
cat "$leaks" || exit 1
echo "---- kmemleak end ----"
