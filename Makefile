# qubes-ephemeral: `make` builds into build/, `make check` runs every test.
SHELL := /bin/bash
CC ?= gcc
MUSL_CC ?= musl-gcc
CLANG ?= clang
PREFIX ?= /usr
DESTDIR ?=
B := build

WARN := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral
INC := -Isrc/lib
LIB_SRC := $(sort $(wildcard src/lib/*.c))
LIB_HDR := $(wildcard src/lib/*.h)
INIT_SRC := $(sort $(wildcard src/ephemeral-init/*.c))
INIT_HDR := $(wildcard src/ephemeral-init/*.h)
APPEND_SRC := $(sort $(wildcard src/initramfs-append/*.c))
QVM_SRC := $(sort $(wildcard src/qvm-ephemeral/*.c))
QVM_HDR := $(wildcard src/qvm-ephemeral/*.h)
# everything of qvm-ephemeral but its main(), for unit tests
QVM_LIB_SRC := $(filter-out src/qvm-ephemeral/main.c,$(QVM_SRC))
# everything of ephemeral-init but its main(), for unit tests of the boot steps
INIT_LIB_SRC := $(filter-out src/ephemeral-init/main.c,$(INIT_SRC))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))

# The guest binary: static, musl, small. Kernel UAPI headers come from the
# host's linux-libc-dev through a folder of links (musl ships none).
GUEST_CFLAGS := $(WARN) -Os -flto -fno-asynchronous-unwind-tables -fno-unwind-tables -static -ffunction-sections -fdata-sections \
	-Wl,--gc-sections -s -I$(B)/musl-include $(INC) -Isrc/ephemeral-init
HOST_CFLAGS := $(WARN) -O2 -g $(INC)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.PHONY: all check unit vm fuzz demo install install-vm packages clean
all: $(B)/ephemeral-init $(B)/ephemeral-init-test $(B)/initramfs-append $(B)/keyscan $(if $(QVM_SRC),$(B)/qvm-ephemeral)

$(B)/musl-include:
	mkdir -p $@
	ln -sfn /usr/include/linux $@/linux
	ln -sfn /usr/include/asm-generic $@/asm-generic
	ln -sfn /usr/include/$$(gcc -print-multiarch)/asm $@/asm

$(B)/ephemeral-init: $(INIT_SRC) $(INIT_HDR) $(LIB_SRC) $(LIB_HDR) | $(B)/musl-include
	$(MUSL_CC) $(GUEST_CFLAGS) -DTEST_HOOKS=0 -o $@ $(INIT_SRC) $(LIB_SRC)

# Same program with the qubes.ephemeral.test.* options enabled: used only by
# tests/vm (control runs, fault injection). Never shipped.
$(B)/ephemeral-init-test: $(INIT_SRC) $(INIT_HDR) $(LIB_SRC) $(LIB_HDR) | $(B)/musl-include
	$(MUSL_CC) $(GUEST_CFLAGS) -DTEST_HOOKS=1 -o $@ $(INIT_SRC) $(LIB_SRC)

$(B)/initramfs-append: $(APPEND_SRC) $(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(B)
	$(CC) $(HOST_CFLAGS) -o $@ $(APPEND_SRC) $(LIB_SRC)

# The dom0 tool (runs in dom0, dynamically linked against libc only).
$(B)/qvm-ephemeral: $(QVM_SRC) $(QVM_HDR) $(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(B)
	$(CC) $(HOST_CFLAGS) -Isrc/qvm-ephemeral -o $@ $(QVM_SRC) $(LIB_SRC)

# tests/vm: finds the volatile key in a guest memory dump by its fingerprint
$(B)/keyscan: tests/vm/keyscan.c src/lib/sha256.c src/lib/sha256.h
	@mkdir -p $(B)
	$(CC) $(HOST_CFLAGS) -O3 -o $@ tests/vm/keyscan.c src/lib/sha256.c

# Unit tests: each tests/unit/test_X.c is its own cmocka program, built with
# ASan + UBSan against the library sources.
$(B)/tests/%: tests/unit/%.c $(LIB_SRC) $(LIB_HDR) $(QVM_LIB_SRC) $(QVM_HDR) $(INIT_LIB_SRC) $(INIT_HDR)
	@mkdir -p $(B)/tests
	$(CC) $(HOST_CFLAGS) $(SAN) -DTEST_HOOKS=1 -Isrc/qvm-ephemeral -Isrc/ephemeral-init -o $@ $< $(LIB_SRC) $(QVM_LIB_SRC) $(INIT_LIB_SRC) -lcmocka -pthread

unit: $(UNIT_BIN)
	@tests/run-unit.sh $(UNIT_BIN)

vm: all
	@tests/vm/run.sh all

check: all $(UNIT_BIN)
	@tests/check.sh $(UNIT_BIN)

$(B)/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(B)/fuzz
	$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -DTEST_HOOKS=1 $(INC) -o $@ $< $(LIB_SRC)

# fuzz_cpio compiles the dom0 tool's initramfs reader in
$(B)/fuzz/fuzz_cpio: src/qvm-ephemeral/kernel_scan.c src/qvm-ephemeral/kernel.h

FUZZ_SECONDS ?= 30
fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
		mkdir -p $(B)/fuzz/corpus-$$(basename $$f); \
		echo "fuzz: $$f for $(FUZZ_SECONDS) s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(B)/fuzz/corpus-$$(basename $$f) tests/fuzz/seeds/$$(basename $$f) 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' ; \
		test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

demo: all
	@tests/vm/demo.sh

# dom0 layout: the tool, its man page, completion and units, and the guest
# payload (ephemeral-init) the tool appends to kernel variants.
install: $(B)/ephemeral-init $(B)/initramfs-append $(B)/qvm-ephemeral
	install -D -m 0755 $(B)/ephemeral-init $(DESTDIR)$(PREFIX)/lib/qubes-ephemeral/ephemeral-init
	install -D -m 0755 $(B)/initramfs-append $(DESTDIR)$(PREFIX)/lib/qubes-ephemeral/initramfs-append
	install -D -m 0755 $(B)/qvm-ephemeral $(DESTDIR)$(PREFIX)/bin/qvm-ephemeral
	install -D -m 0644 doc/qvm-ephemeral.1 $(DESTDIR)$(PREFIX)/share/man/man1/qvm-ephemeral.1
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
