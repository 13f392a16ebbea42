# SPDX-License-Identifier: GPL-2.0
#
# cxxvm: a C++ vmap block allocator in a Linux kernel module.
#
#   make                 build cxxvm.ko against KDIR (default: running kernel)
#   make KDIR=<tree>     build against another kernel tree or headers
#   make bench           boot Debian's 6.1, 6.12 and sid's 7.2 under qemu
#                        with vng, run the benchmark in each, print the
#                        cross-kernel summary, write JSON and PNG plots
#   make check           build for 6.1, 6.12 and 7.2, run the selftests and
#                        the ioctl fuzzer in guests, then the KUnit suites,
#                        the same, cxxvm-faults and the fuzzer with failing
#                        allocations in the 7.2 debug test kernel
#   make bench|check KERNEL=<image> KDIR=<tree>
#                        the same on a kernel of your own (vng --kconfig)
#   CXXVM_KERNELS="7.2"  pick stock lines for bench and check
#   make kunit           only the KUnit stage, in both test kernels (6.1, 7.2)
#   make test-kernel     only build (or find cached) the KUnit test kernels
#   make fuzz            run the hosted core's libFuzzer harnesses
#                        (FUZZ_SECONDS each, default 60)
#   make fuzz-kernel SECONDS=N
#                        run cxxvm-fuzz (the ioctl fuzzer) for N seconds
#                        in stock 7.2, then in the 7.2 debug test kernel
#   make callgrind       instructions per map+unmap and per lookup
#   make clean

KDIR ?= /lib/modules/$(shell uname -r)/build
PWD := $(CURDIR)
# make bench/check KERNEL=<image> KDIR=<tree>: a kernel of the user's own.
# KDIR counts only if the user gave it (it has a default for plain make).
GUEST_ENV := CXXVM_KERNEL='$(KERNEL)' \
	CXXVM_KDIR='$(if $(filter command line environment,$(origin KDIR)),$(KDIR))'

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(PWD) modules
	@selftests/vm/check-ko.sh $(PWD)/cxxvm.ko $(KDIR)/.config

selftests:
	$(MAKE) -C selftests

bench:
	@$(GUEST_ENV) selftests/vm/bench.sh

check:
	@$(GUEST_ENV) selftests/vm/check.sh

kunit:
	@selftests/vm/kunit.sh 6.1 && selftests/vm/kunit.sh 7.2

test-kernel:
	@selftests/vm/test-kernel.sh 6.1 && selftests/vm/test-kernel.sh 7.2

fuzz:
	$(MAKE) -C selftests/hosted fuzz

fuzz-kernel:
	@selftests/vm/fuzz.sh $(SECONDS)

callgrind:
	$(MAKE) -C selftests/hosted callgrind

clean:
	$(MAKE) -C $(KDIR) M=$(PWD) clean 2>/dev/null || \
		rm -f cxxvm.ko *.o */*.o */*/*.o .*.cmd */.*.cmd */*/.*.cmd \
		      *.mod *.mod.c modules.order Module.symvers \
		      module/cxxvm_probes.h
	$(MAKE) -C selftests clean
	$(MAKE) -C selftests/hosted clean

.PHONY: all modules selftests bench check kunit test-kernel fuzz fuzz-kernel callgrind clean
