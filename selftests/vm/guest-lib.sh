# SPDX-License-Identifier: GPL-2.0
#
# guest-lib.sh: sourced by the scripts that run inside a guest.

# reserved_mem_arg: the module parameter that names the memory the host
# reserved on the guest's command line (memmap=SIZE$START, see check.sh
# and bench.sh), "reserved_mem=SIZE@START"; nothing without memmap=.
reserved_mem_arg() {
	sed -n 's/.*memmap=\([0-9]*[KMG]\)\$\(0x[0-9a-fA-F]*\).*/reserved_mem=\1@\2/p' /proc/cmdline
}

CXXVM_KMEMLEAK=/sys/kernel/debug/kmemleak

# kmemleak_clear: forget what boot and earlier steps left behind, so that
# only what follows is reported.  Fails if kmemleak cannot be driven.
kmemleak_clear() {
	echo scan >"$CXXVM_KMEMLEAK" && echo clear >"$CXXVM_KMEMLEAK"
}

# kmemleak_report: scan and print what kmemleak finds between
# "---- kmemleak begin/end ----" lines (lib.sh's kmemleak_leaks() reads
# them on the host).  It reports objects older than 5 s only, and an
# object once a second scan still finds it unreferenced.
kmemleak_report() {
	sleep 6
	echo scan >"$CXXVM_KMEMLEAK" || return 1
	echo scan >"$CXXVM_KMEMLEAK" || return 1
	echo "---- kmemleak begin ----"
	cat "$CXXVM_KMEMLEAK" || return 1
	echo "---- kmemleak end ----"
}
