#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: install what is missing, build cxxvm.ko and cxxvm-bench, boot
# a kernel under TCG with vng and run the benchmark in it.  The table is
# printed; the JSON is saved under results/.
#
#   CXXVM_BENCH_KERNEL=<release>   guest kernel (default: Debian's stock 6.1)
#                                  needs /boot/vmlinuz-<release> and
#                                  /lib/modules/<release>/build
#   CXXVM_BENCH_ARGS="-n 50000"    extra cxxvm-bench arguments
set -uo pipefail
. "$(dirname "$0")/lib.sh"

t0=$(date +%s)
log "host set-up: installing whatever is missing (apt; virtme-ng from trixie)"
"$CXXVM_TOP/selftests/vm/host-setup.sh" >/dev/null || die "host set-up failed"
rel=${CXXVM_BENCH_KERNEL:-$(stock_61_release)}
image=/boot/vmlinuz-$rel
[ -f "$image" ] || die "no $image"

log "[$rel] building cxxvm.ko"
ko=$(build_ko "$rel") || exit 1
log "building cxxvm-bench"
make -s -C "$CXXVM_TOP/selftests" cxxvm-bench >&2 || die "cxxvm-bench does not build"

results=$CXXVM_TOP/results
mkdir -p "$results"
json=$results/bench-$rel-$(date +%Y%m%d-%H%M%S).json
out=$CXXVM_BUILD/$rel/bench.out
log "[$rel] booting $image under TCG (vng --disable-kvm) and running the benchmark (~2 min)"
# The TSC, not the HPET: under TCG an HPET read is an emulated MMIO access
# costing more than a one-page map+unmap.  qemu derives the guest TSC from
# the host clock, the same for both vCPUs, so the watchdog is not needed.
# memmap= reserves 256 MiB of guest RAM for the lookup section's real
# pagemaps: memory no driver owns, for memremap_pages().
vng_run "$image" "$CXXVM_BUILD/$rel/bench-console.log" \
	--append "clocksource=tsc tsc=reliable memmap=256M\$0x30000000" -- \
	"$CXXVM_TOP/selftests/vm/guest-bench.sh" "$ko" \
	"$CXXVM_TOP/selftests/cxxvm-bench" ${CXXVM_BENCH_ARGS:-} >"$out"
rc=$?
sed '/^---- cxxvm-bench json begin ----$/,$d' "$out"
[ "$rc" -eq 0 ] || die "benchmark run failed (exit $rc)"
sed -n '/^---- cxxvm-bench json begin ----$/,/^---- cxxvm-bench json end ----$/p' "$out" |
	sed '1d;$d' >"$json"
[ -s "$json" ] || die "the guest printed no JSON"
log "JSON saved as $json"
log "make bench took $(($(date +%s) - t0)) s; figures are from qemu TCG: compare ratios, not ns"
