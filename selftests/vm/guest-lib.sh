# SPDX-License-Identifier: GPL-2.0
#
# guest-lib.sh: sourced by the scripts that run inside a guest.

# reserved_mem_arg: the module parameter that names the memory the host
# reserved on the guest's command line (memmap=SIZE$START, see check.sh
# and bench.sh), "reserved_mem=SIZE@START"; nothing without memmap=.
reserved_mem_arg() {
	sed -n 's/.*memmap=\([0-9]*[KMG]\)\$\(0x[0-9a-fA-F]*\).*/reserved_mem=\1@\2/p' /proc/cmdline
}
