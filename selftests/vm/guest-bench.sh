#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# guest-bench.sh KO BENCH_BINARY [ARGS...]: runs inside the guest.  The
# host's filesystem is read-only here, so the JSON goes to the guest's /tmp
# and is printed between marker lines for bench.sh to extract.
# CXXVM_MODULE_ARGS: insmod parameters (e.g. caller_purge=1).
# CXXVM_REAL_DATA (and CXXVM_REAL_KROOT): then guest-real.sh too, with the
# module's default arena, for make bench's real section.
set -eu
. "$(dirname "$0")/guest-lib.sh"
ko=$1 bench=$2
shift 2
# Let the guest's boot-time work (udev's coldplug events) finish first:
# the first cells measured would otherwise share the vCPUs with it.
if command -v udevadm >/dev/null; then
	udevadm settle --timeout=60 || true
fi
# The memory bench.sh reserved on the command line (memmap=SIZE$START) is
# given to the module by name, for the lookup section's real pagemaps.
reserved=$(reserved_mem_arg)
# shellcheck disable=SC2086 # lists of module parameters
insmod "$ko" $reserved ${CXXVM_MODULE_ARGS:-}
echo "guest: $(nproc) vCPUs, clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
"$bench" --json /tmp/cxxvm-bench.json "$@"
# The real section: the kernel's own vm_map_ram() callers observed and
# taken over (guest-real.sh; its "# real:" lines are the figures).  A file
# that does not read back fails the run; a replay that fails is a "not ok"
# line, and fails it after the JSON.
rc=0
if [ -n "${CXXVM_REAL_DATA:-}" ]; then
	# shellcheck disable=SC2086 # empty, or one directory
	"$(dirname "$0")/guest-real.sh" "$CXXVM_REAL_DATA" ${CXXVM_REAL_KROOT:-}
	# Each observed trace replayed through every backend ("# replay:"
	# lines), in a fresh load of the module: the takeover's ftrace hook
	# stays on vm_map_ram() and vm_unmap_ram() until rmmod, so in this
	# load the replay's kernel backends would pass through it on every
	# call, and its cxx backend would not.
	# (Without takeover=, which would hook them again at load.)
	rmmod cxxvm
	args=
	for arg in ${CXXVM_MODULE_ARGS:-}; do
		case $arg in takeover=*) ;; *) args="$args $arg" ;; esac
	done
	# shellcheck disable=SC2086 # lists of module parameters
	insmod "$ko" $reserved $args
	for trace in /tmp/cxxvm-real-*-observe.replay; do
		[ -e "$trace" ] || continue
		if "$bench" -s replay -r 3 --replay "$trace"; then
			echo "ok real $(basename "$trace"): replayed through every backend"
		else
			echo "not ok real $(basename "$trace"): replayed through every backend"
			rc=1
		fi
	done
fi
rmmod cxxvm
echo "---- cxxvm-bench json begin ----"
cat /tmp/cxxvm-bench.json
echo "---- cxxvm-bench json end ----"
exit "$rc"
