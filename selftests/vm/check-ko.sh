#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check-ko.sh KO: checks on a freshly built cxxvm.ko and its objects.
#
#  1. No .init_array/.ctors (or their destructor twins): Debian kernels have
#     CONSTRUCTORS off, so the module loader would never run them.
#  2. The objects compiled from C++ import only the shim's calls
#     (cxxvm_plat_*, cxxrt_*) and what the compiler emits for the kernel's
#     own flags (ftrace entry, stack protector, return/indirect thunks,
#     memcpy and friends).  modpost alone is not enough: the kernel exports
#     abort(), which libstdc++'s inline throw helpers reach through
#     __builtin_abort() (optional::value() on a maybe-empty optional).
set -euo pipefail
ko=${1:?usage: check-ko.sh MODULE.ko}
dir=$(dirname "$ko")
status=0

bad=$(objdump -h "$ko" | awk '{print $2}' |
      grep -E '^\.(init_array|ctors|fini_array|dtors)' || true)
if [ -n "$bad" ]; then
	echo "check-ko: $ko has dynamic initialisation sections: $bad" >&2
	status=1
fi

allowed='^(cxxvm_plat_[a-z_]+|cxxrt_[a-z_]+|__cxa_pure_virtual|__fentry__|__stack_chk_fail|__stack_chk_guard|__ref_stack_chk_guard|__x86_return_thunk|__x86_indirect_thunk_[a-z0-9]+|__x86_indirect_call_thunk_[a-z0-9]+|__x86_indirect_jump_thunk_[a-z0-9]+|memcpy|memmove|memset|memcmp)$'
while IFS= read -r src; do
	obj=${src%.cpp}.o
	[ -f "$obj" ] || { echo "check-ko: no $obj for $src" >&2; status=1; continue; }
	extra=$(nm -u "$obj" | awk '{print $2}' | grep -vE "$allowed" || true)
	if [ -n "$extra" ]; then
		echo "check-ko: $obj (C++) imports symbols kernel C++ may not use:" $extra >&2
		status=1
	fi
done < <(find "$dir/module" "$dir/cxxrt" -name '*.cpp')
exit $status
