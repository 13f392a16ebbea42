#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check-ko.sh KO: fail if a built module has sections the module loader
# never runs for us: .init_array/.ctors (dynamic initialisation; Debian
# kernels have CONSTRUCTORS off) or their destructor twins.
set -euo pipefail
ko=${1:?usage: check-ko.sh MODULE.ko}
bad=$(objdump -h "$ko" | awk '{print $2}' |
      grep -E '^\.(init_array|ctors|fini_array|dtors)' || true)
if [ -n "$bad" ]; then
	echo "check-ko: $ko has dynamic initialisation sections: $bad" >&2
	exit 1
fi
