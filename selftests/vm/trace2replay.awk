#!/usr/bin/awk -f
# SPDX-License-Identifier: GPL-2.0
#
# trace2replay.awk: ftrace's text output (tracefs "trace", or trace-cmd
# report) of the events cxxvm:cxxvm_vm_map_ram and cxxvm:cxxvm_vm_unmap_ram
# -> a replay trace (selftests/fixtures/README), on stdout.
#
# Every address a map returned becomes a mapping id, one not live (the
# last one freed), so that ids stay few and a trace's nr_ids is its peak of
# live mappings.  Skipped, and counted in the closing comment: maps that
# failed (addr=0x0) and unmaps of addresses mapped before the trace
# began, and unmaps the takeover refused (by=refused: no live mapping of
# that size; the kernel's vm_unmap_ram() would BUG).  A map of an address
# that is still live in the trace is a map
# whose event was recorded before the unmap event of the same VA on
# another CPU (each event is recorded when its call returns): the older
# mapping is closed there, and its own unmap event (same address and
# pages), when it comes, skipped.
# Other cxxvm events (blocks, purges) are ignored.
#
#   awk -f trace2replay.awk /sys/kernel/tracing/trace >erofs.replay

function field(name,    i) {
	for (i = 1; i <= NF; i++)
		if (index($i, name "=") == 1)
			return substr($i, length(name) + 2)
	return ""
}

function context(    i) {
	cpu = ""; ts = ""
	for (i = 1; i <= NF; i++) {
		if (cpu == "" && $i ~ /^\[[0-9]+\]$/)
			cpu = substr($i, 2, length($i) - 2) + 0
		else if (cpu != "" && $i ~ /^[0-9]+\.[0-9]+:$/) {
			ts = substr($i, 1, length($i) - 1)
			return
		}
	}
}

function new_id() {
	return nfree ? freel[nfree--] : nids++
}

function close_id(addr, pages) {
	print ts, cpu, "unmap", pages, live[addr]
	freel[++nfree] = live[addr]
	delete live[addr]
}

BEGIN {
	print "# cxxvm replay trace v1"
	print "# time_s cpu op pages id"
}

/ cxxvm_vm_map_ram: / {
	context()
	addr = field("addr"); pages = field("pages")
	if (addr == "0x0") { failed++; next }
	if (addr in live) {
		# Its unmap event is still to come: close it here, skip that.
		close_id(addr, livepages[addr])
		skip[addr, livepages[addr]]++
		reordered++
	}
	live[addr] = new_id()
	livepages[addr] = pages
	print ts, cpu, "map", pages, live[addr]
	maps++
	next
}

/ cxxvm_vm_unmap_ram: / {
	context()
	# Refused (no live mapping of that size): the mapping, if any, lives on.
	if (field("by") == "refused") { refused++; next }
	addr = field("addr"); pages = field("pages")
	if (skip[addr, pages]) { skip[addr, pages]--; next }
	if (!(addr in live) || livepages[addr] != pages) { orphans++; next }
	close_id(addr, pages)
	unmaps++
}

END {
	left = 0
	for (a in live)
		left++
	printf "# maps=%d unmaps=%d ids=%d failed=%d orphans=%d reordered=%d live_at_end=%d refused=%d\n",
		maps, unmaps + reordered, nids, failed, orphans, reordered, left, refused
}
