# SPDX-License-Identifier: GPL-2.0-or-later
# qubes-ephemeral: `make` builds what ships into build/; `make check` runs the
# fast tests, `make check-vm`, `make check-pkg`, `make bench-smoke` the slow
# tiers; `bash scripts/test.sh` (the README's test command) runs every tier.
#
# Packagers: CFLAGS, CPPFLAGS and LDFLAGS from the environment or the command
# line (rpm %optflags, dpkg-buildflags) reach every host build (the dom0 tool,
# initramfs-append, the tests); the guest binary (static, musl) takes
# GUEST_CFLAGS / GUEST_LDFLAGS instead (glibc toolchains' flags do not fit
# musl-gcc). Warnings are errors for our own builds and CI; `make WERROR=`
# turns that off. B=DIR builds into another folder.
SHELL := /bin/bash
CC ?= gcc
MUSL_CC ?= musl-gcc
CLANG ?= clang
PREFIX ?= /usr
DESTDIR ?=
B ?= build
.DEFAULT_GOAL := all

# the one source of the version: the file `version` (packaging reads it too)
VERSION := $(shell cat version)

# overridable defaults (a packager's CFLAGS replace them)
CFLAGS ?= -O2 -g
CPPFLAGS ?=
LDFLAGS ?=
GUEST_CFLAGS ?=
GUEST_LDFLAGS ?=
WERROR ?= -Werror

WARN := -std=gnu11 -Wall -Wextra $(WERROR) -Wshadow -Wformat=2 -Wno-format-nonliteral
DEFS := -DQE_VERSION=\"$(VERSION)\"
INC := -Isrc/lib
DEP := -MMD -MP
LIB_SRC := $(sort $(wildcard src/lib/*.c))
INIT_SRC := $(sort $(wildcard src/ephemeral-init/*.c))
APPEND_SRC := $(sort $(wildcard src/initramfs-append/*.c))
QVM_SRC := $(sort $(wildcard src/qvm-ephemeral/*.c))
# everything of qvm-ephemeral but its main(), for unit tests
QVM_LIB_SRC := $(filter-out src/qvm-ephemeral/main.c,$(QVM_SRC))
# everything of ephemeral-init but its main(), for unit tests of the boot steps
INIT_LIB_SRC := $(filter-out src/ephemeral-init/main.c,$(INIT_SRC))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))
# what the fast tier's line coverage needs besides the unit tests (see coverage:)
COV_BINS := $(B)/ephemeral-init-host $(patsubst %.c,$(B)/obj/san/%.o,$(APPEND_SRC))

# Object folders, one per flavour: build/obj/FLAVOUR/src/.../x.o (+ x.d)
#   guest       the guest binary: musl, static, -Os, LTO, TEST_HOOKS=0
#   guest-test  the same with the qubes.ephemeral.test.* options (tests/vm)
#   host        the dom0 tool and initramfs-append (CFLAGS/CPPFLAGS/LDFLAGS)
#   san         unit tests and the tools tests/dom0 runs: host build with
#               ASan + UBSan and gcov counters (the fast tier's line coverage
#               comes from these runs; no second run for it)
#   fuzz        clang, libFuzzer + ASan + UBSan
O := $(B)/obj
GUEST_CC_FLAGS := $(WARN) -Os -flto -fno-asynchronous-unwind-tables -fno-unwind-tables -ffunction-sections -fdata-sections \
	-I$(B)/musl-include $(INC) -Isrc/ephemeral-init $(DEFS) $(GUEST_CFLAGS)
GUEST_LD_FLAGS := -Os -flto -static -Wl,--gc-sections -s $(GUEST_LDFLAGS)
HOST_CC_FLAGS := $(WARN) $(INC) -Isrc/qvm-ephemeral $(DEFS) $(CPPFLAGS) $(CFLAGS)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_CC_FLAGS := $(HOST_CC_FLAGS) $(SAN) --coverage -DTEST_HOOKS=1 -Isrc/ephemeral-init
FUZZ_CC_FLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -DTEST_HOOKS=1 $(INC) $(DEFS)

objs = $(patsubst %.c,$(O)/$(1)/%.o,$(2))

# A flavour's flags are recorded in its folder; objects are rebuilt when they change.
# objects are kept (not intermediate files make would delete)
.SECONDARY:
FORCE:
.PHONY: FORCE
define flavour
$(O)/$(1)/.flags: FORCE
	@mkdir -p $$(@D); echo '$(2)' | cmp -s - $$@ || echo '$(2)' >$$@
$(O)/$(1)/%.o: %.c $(O)/$(1)/.flags $(3)
	@mkdir -p $$(@D); rm -f $$(@:.o=.gcda)   # counters of the old object: gcov would complain
	$(4) $(2) $(DEP) -c -o $$@ $$<
endef
$(eval $(call flavour,guest,$(GUEST_CC_FLAGS) -DTEST_HOOKS=0,| $(B)/musl-include,$(MUSL_CC)))
$(eval $(call flavour,guest-test,$(GUEST_CC_FLAGS) -DTEST_HOOKS=1,| $(B)/musl-include,$(MUSL_CC)))
$(eval $(call flavour,host,$(HOST_CC_FLAGS),,$(CC)))
$(eval $(call flavour,san,$(SAN_CC_FLAGS),,$(CC)))
$(eval $(call flavour,fuzz,$(FUZZ_CC_FLAGS),,$(CLANG)))

ALL_OBJ := $(call objs,guest,$(INIT_SRC) $(LIB_SRC)) $(call objs,guest-test,$(INIT_SRC) $(LIB_SRC)) \
	$(call objs,host,$(APPEND_SRC) $(QVM_SRC) $(LIB_SRC) tests/vm/keyscan.c) $(call objs,san,$(QVM_SRC)) \
	$(call objs,san,$(UNIT_SRC) $(INIT_SRC) $(APPEND_SRC) $(LIB_SRC)) $(call objs,fuzz,$(FUZZ_SRC) $(LIB_SRC))
-include $(ALL_OBJ:.o=.d)

.PHONY: all check check-vm check-pkg check-buildflags check-all bench-smoke unit vm fuzz demo \
	install install-vm packages coverage clean test-bins
# what ships
all: $(B)/ephemeral-init $(B)/initramfs-append $(B)/qvm-ephemeral
# what only the tests use
test-bins: $(B)/ephemeral-init-test $(B)/keyscan $(B)/qvm-ephemeral-test

$(B)/musl-include:
	mkdir -p $@
	ln -sfn /usr/include/linux $@/linux
	ln -sfn /usr/include/asm-generic $@/asm-generic
	ln -sfn /usr/include/$$(gcc -print-multiarch)/asm $@/asm

# The guest binary: static, musl, small. Kernel UAPI headers come from the
# host's linux-libc-dev through a folder of links (musl ships none).
$(B)/ephemeral-init: $(call objs,guest,$(INIT_SRC) $(LIB_SRC))
	$(MUSL_CC) $(GUEST_LD_FLAGS) -o $@ $^

# Same program with the qubes.ephemeral.test.* options enabled: used only by
# tests/vm (control runs, fault injection). Never shipped.
$(B)/ephemeral-init-test: $(call objs,guest-test,$(INIT_SRC) $(LIB_SRC))
	$(MUSL_CC) $(GUEST_LD_FLAGS) -o $@ $^

$(B)/initramfs-append: $(call objs,host,$(APPEND_SRC) $(LIB_SRC))
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

# The dom0 tool (runs in dom0, dynamically linked against libc only).
$(B)/qvm-ephemeral: $(call objs,host,$(QVM_SRC) $(LIB_SRC))
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

# The dom0 tool with the test-only environment hooks (TEST_ENV in qvm.h,
# -DTEST_HOOKS=1) and ASan + UBSan, from the unit tests' objects: what
# tests/dom0 and tests/pkg run. Never shipped.
$(B)/qvm-ephemeral-test: $(call objs,san,$(QVM_SRC) $(LIB_SRC))
	$(CC) $(CFLAGS) $(SAN) --coverage $(LDFLAGS) -o $@ $^

# The init built for the host (glibc, ASan, gcov): the fast tier runs the
# modes that work outside a VM (its refusal to run as a program, `status`,
# `--hook check`) for their line coverage. Never shipped.
$(B)/ephemeral-init-host: $(call objs,san,$(INIT_SRC) $(LIB_SRC))
	$(CC) $(CFLAGS) $(SAN) --coverage $(LDFLAGS) -o $@ $^ -pthread

# tests/vm: finds the volatile key in a guest memory dump by its fingerprint
$(B)/keyscan: $(call objs,host,tests/vm/keyscan.c src/lib/sha256.c)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

# Unit tests: each tests/unit/test_X.c is its own cmocka program, built with
# ASan + UBSan and -DTEST_HOOKS=1, linked with the objects of the library,
# the dom0 tool and the init's steps (compiled once for all of them).
# A test may replace functions it calls with its own at link time (ld --wrap:
# calls of SYM go to __wrap_SYM, __real_SYM is the original): one comment
# line " * ld-wrap: SYM SYM..." in its source lists them (tests/unit/README.md).
comma := ,
unit_wraps = $(addprefix -Wl$(comma)--wrap=,$(shell sed -n 's/^ \* ld-wrap: //p' tests/unit/$(1).c))
SAN_LIB_OBJ := $(call objs,san,$(LIB_SRC) $(QVM_LIB_SRC) $(INIT_LIB_SRC))
$(B)/tests/%: $(O)/san/tests/unit/%.o $(SAN_LIB_OBJ) tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) --coverage $(LDFLAGS) -o $@ $(filter %.o,$^) $(call unit_wraps,$*) -lcmocka -pthread

# test_appender runs initramfs-append as built (B/initramfs-append): the two
# users of the appender must write the same bytes
$(B)/tests/test_appender: | $(B)/initramfs-append

unit: $(UNIT_BIN)
	@tests/run-unit.sh $(UNIT_BIN)

FUZZ_LIB_OBJ := $(call objs,fuzz,$(LIB_SRC))
$(B)/fuzz/%: $(O)/fuzz/tests/fuzz/%.o $(FUZZ_LIB_OBJ)
	@mkdir -p $(@D)
	$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -o $@ $^

# tests/xen: real Xen nested under QEMU (root; downloads Debian's Xen packages once).
# Also part of check-vm (tests/check.sh tier_vm).
.PHONY: check-xen
check-xen: all test-bins
	@tests/xen/run.sh all

FUZZ_SECONDS ?= 30
fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
		mkdir -p $(B)/fuzz/corpus-$$(basename $$f); \
		echo "fuzz: $$f for $(FUZZ_SECONDS) s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(B)/fuzz/corpus-$$(basename $$f) tests/fuzz/seeds/$$(basename $$f) 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' ; \
		test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

# Test tiers (tests/check.sh; each ends with "N passed, N failed"):
#   check        fast, no VM: unit, install, fuzz smoke, shipped strings, tests/dom0, tests/docs
#   check-vm     tests/vm/guard-test.sh, the QEMU scenarios, the stack doc check, tests/xen
#   check-pkg    tests/pkg, and the dom0 tool built with dpkg-buildflags
#   bench-smoke  every bench figure once at tiny sizes
# check-all (scripts/test.sh) runs every tier listed in tests/check.sh.
check: all test-bins $(UNIT_BIN) $(COV_BINS)
	@tests/check.sh fast
check-vm: all test-bins
	@tests/check.sh vm
check-pkg: all test-bins
	@tests/check.sh pkg
bench-smoke: all
	@tests/check.sh bench
check-all: all test-bins $(UNIT_BIN) $(COV_BINS)
	@tests/check.sh all

# The dom0 tool and initramfs-append built as Debian would (dpkg-buildflags,
# hardening=+all) into build/dpkg, then the unit and dom0 tests against it.
check-buildflags:
	@tests/buildflags.sh

vm: all test-bins
	@tests/vm/run.sh all

demo: all test-bins
	@tests/vm/demo.sh

# Line coverage of src/ (gcov, counters in the san objects): by the unit
# tests, and by the whole fast tier (+ tests/dom0 against qvm-ephemeral-test
# + the host-runnable modes of ephemeral-init-host). `make check` measures
# its own runs; `make coverage` runs those parts alone (tests/coverage.sh).
# initramfs-append's objects are compiled for their line counts only (no
# test binary links them: reported as not reached).
coverage: $(UNIT_BIN) $(B)/qvm-ephemeral-test $(COV_BINS)
	@B=$(B) tests/coverage.sh run $(UNIT_BIN)

# dom0 layout: the tool, its man page, completion and units, and the guest
# payload (ephemeral-init) the tool appends to kernel variants.
install: $(B)/ephemeral-init $(B)/initramfs-append $(B)/qvm-ephemeral
	install -D -m 0755 $(B)/ephemeral-init $(DESTDIR)$(PREFIX)/lib/qubes-ephemeral/ephemeral-init
	install -D -m 0755 $(B)/initramfs-append $(DESTDIR)$(PREFIX)/lib/qubes-ephemeral/initramfs-append
	install -D -m 0755 $(B)/qvm-ephemeral $(DESTDIR)$(PREFIX)/bin/qvm-ephemeral
	install -D -m 0644 docs/qvm-ephemeral.1 $(DESTDIR)$(PREFIX)/share/man/man1/qvm-ephemeral.1
	install -D -m 0644 completion/qvm-ephemeral.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/qvm-ephemeral
	for u in dom0/systemd/*; do install -D -m 0644 $$u $(DESTDIR)$(PREFIX)/lib/systemd/system/$$(basename $$u); done

# Template (in-VM kernel) layout: the guest binary and the initramfs-tools hook
# and dracut module that run it (files under vm/, executable bits kept).
install-vm: $(B)/ephemeral-init
	install -D -m 0755 $(B)/ephemeral-init $(DESTDIR)$(PREFIX)/lib/qubes-ephemeral/ephemeral-init
	for f in $$(find vm/initramfs-tools vm/dracut -type f 2>/dev/null | sort); do \
		case $$f in vm/initramfs-tools/*) d=share/$${f#vm/};; vm/dracut/*) d=lib/dracut/modules.d/$${f#vm/dracut/};; esac; \
		if [ -x $$f ]; then m=0755; else m=0644; fi; \
		install -D -m $$m $$f $(DESTDIR)$(PREFIX)/$$d || exit 1; done

# qubes-ephemeral-dom0 and qubes-ephemeral-vm RPMs and the qubes-ephemeral-vm
# .deb in build/packages (rpmbuild and dpkg-deb; see packaging/README.md)
packages:
	packaging/build.sh

clean:
	rm -rf $(B)
