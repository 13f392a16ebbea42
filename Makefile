# SPDX-License-Identifier: GPL-2.0
#
# cxxvm: a C++ vmap block allocator in a Linux kernel module.
#
#   make                 build cxxvm.ko against KDIR (default: running kernel)
#   make KDIR=<tree>     build against another kernel tree or headers
#   make bench           boot a qemu guest with vng, run the benchmark
#   make check           build for 6.1 and 6.12, run the selftests in guests,
#                        then the KUnit suites in the test kernel
#   make kunit           only the KUnit stage
#   make test-kernel     only build (or find cached) the KUnit test kernel
#   make fuzz            run the hosted core's libFuzzer harnesses
#                        (FUZZ_SECONDS each, default 60)
#   make callgrind       instructions per map+unmap and per lookup
#   make clean

KDIR ?= /lib/modules/$(shell uname -r)/build
PWD := $(CURDIR)

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(PWD) modules
	@selftests/vm/check-ko.sh $(PWD)/cxxvm.ko $(KDIR)/.config

selftests:
	$(MAKE) -C selftests

bench:
	@selftests/vm/bench.sh

check:
	@selftests/vm/check.sh

kunit:
	@selftests/vm/kunit.sh

test-kernel:
	@selftests/vm/test-kernel.sh

fuzz:
	$(MAKE) -C selftests/hosted fuzz

callgrind:
	$(MAKE) -C selftests/hosted callgrind

clean:
	$(MAKE) -C $(KDIR) M=$(PWD) clean 2>/dev/null || \
		rm -f cxxvm.ko *.o */*.o */*/*.o .*.cmd */.*.cmd */*/.*.cmd \
		      *.mod *.mod.c modules.order Module.symvers \
		      module/cxxvm_probes.h
	$(MAKE) -C selftests clean
	$(MAKE) -C selftests/hosted clean

.PHONY: all modules selftests bench check kunit test-kernel fuzz callgrind clean
