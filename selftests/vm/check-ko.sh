#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check-ko.sh KO [KERNEL_CONFIG]: checks on a freshly built module and its
# objects.
#
#  1. No .init_array/.ctors (or their destructor twins) in any object built
#     from C++: Debian kernels have CONSTRUCTORS off, so the module loader
#     would never run them, and kernel C++ has no dynamic initialisation at
#     all.  Where the target kernel has CONSTRUCTORS off (KERNEL_CONFIG, the
#     kernel's .config, says so; all Debian stock kernels), the whole .ko is
#     held to this too.  A KASAN kernel selects CONSTRUCTORS and instruments
#     the C objects with constructors of its own, which the loader runs.
#  2. The objects compiled from C++ import only the shim's calls
#     (cxxvm_plat_*, cxxrt_*) and what the compiler emits for the kernel's
#     own flags (ftrace entry, stack protector, return/indirect thunks,
#     memcpy and friends).  modpost alone is not enough: the kernel exports
#     abort(), which libstdc++'s inline throw helpers reach through
#     __builtin_abort() (optional::value() on a maybe-empty optional).
set -euo pipefail
ko=${1:?usage: check-ko.sh MODULE.ko [KERNEL_CONFIG]}
config=${2:-}
status=0

ctor_sections() {
	objdump -h "$1" | awk '{print $2}' |
		grep -E '^\.(init_array|ctors|fini_array|dtors)' | tr '\n' ' ' || true
}

if [ -z "$config" ] || ! grep -qx 'CONFIG_CONSTRUCTORS=y' "$config"; then
	bad=$(ctor_sections "$ko")
	if [ -n "$bad" ]; then
		echo "check-ko: $ko has dynamic initialisation sections: $bad" >&2
		status=1
	fi
fi

allowed='^(cxxvm_plat_[a-z_]+|cxxrt_[a-z_]+|__cxa_pure_virtual|__fentry__|__stack_chk_fail|__stack_chk_guard|__ref_stack_chk_guard|__x86_return_thunk|__x86_indirect_thunk_[a-z0-9]+|__x86_indirect_call_thunk_[a-z0-9]+|__x86_indirect_jump_thunk_[a-z0-9]+|memcpy|memmove|memset|memcmp|__asan_[A-Za-z0-9_]+|__ubsan_handle_[a-z_]+)$'
# The module's own objects (Kbuild lists them in NAME.mod), those built
# from C++.
mod=${ko%.ko}.mod
[ -f "$mod" ] || { echo "check-ko: no $mod" >&2; exit 1; }
# Kbuild lists them with absolute paths up to 6.12, relative to the
# module's directory later.
kodir=$(cd "$(dirname "$ko")" && pwd)
while IFS= read -r obj; do
	case $obj in /*) ;; *) obj=$kodir/$obj ;; esac
	[ -f "${obj%.o}.cpp" ] || continue
	[ -f "$obj" ] || { echo "check-ko: no $obj" >&2; status=1; continue; }
	bad=$(ctor_sections "$obj")
	if [ -n "$bad" ]; then
		echo "check-ko: $obj (C++) has dynamic initialisation sections: $bad" >&2
		status=1
	fi
	extra=$(nm -u "$obj" | awk '{print $2}' | grep -vE "$allowed" || true)
	if [ -n "$extra" ]; then
		echo "check-ko: $obj (C++) imports symbols kernel C++ may not use:" $extra >&2
		status=1
	fi
done < <(tr ' ' '\n' <"$mod" | grep .)
exit $status
