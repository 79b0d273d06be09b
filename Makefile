# cnic — one non-recursive GNU make.
#
#   make              build bin/<plugin> for every plugin
#   make test         (root) unit (ASan+UBSan), integration, VM and e2e suites
#   make unit         unit tests only (no root)
#   make demo         (root) wire throwaway namespaces through the plugins
#   make bench        ours vs the reference, side by side
#   make bench-runtimes (root) pod start/stop through containerd and podman, ours vs the reference
#   make bench-report (root) docs/benchmarks.md + docs/bench/*.svg, ~10-15 min + runtimes
#   make faults-sweep (root) syscall error sweeps over every plugin and verb
#   make shellcheck   lint the scripts; make format / format-check: clang-format the C sources
#   make install      PREFIX=/opt/cni/bin DESTDIR=; says which dir each runtime uses
#   make deb          build/pkg/cnic_<version>_<arch>.deb (/usr/lib/cni, replaces
#                     containernetworking-plugins)
#   make dist         build/pkg/cni-plugins-linux-<arch>-v<version>.tgz (the reference's layout)
#   STATIC=0          link the plugins dynamically (default: fully static, see below)
#   SANITIZE=1        build the plugins with AddressSanitizer + UndefinedBehaviorSanitizer
#   VALGRIND=1        run the integration suite's plugin calls under valgrind memcheck

CC       ?= cc
PREFIX   ?= /opt/cni/bin
DESTDIR  ?=
PKGS     := json-c libnl-3.0 libmnl libnftnl
# The newest vX.Y.Z tag (0.0.0 before the first) and, past it, the commit;
# "-dirty" for uncommitted changes.  Debian's version: '-' becomes '+'.
VERSION  := $(shell v=$$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null) || \
	v=0.0.0-g$$(git describe --always --dirty 2>/dev/null || echo unknown); echo "$$v" | sed 's/^v//')
DEB_VERSION := $(subst -,+,$(VERSION))

WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
            -Wold-style-definition -Wno-unused-parameter
# Warnings are fatal in CI (which runs with CI=true) and wherever WERROR=1,
# not in users' builds: a newer compiler's new warning must not stop a
# packager's build of a release.
WERROR   ?= $(if $(filter true,$(CI)),1,0)
ifeq ($(WERROR),1)
WARN     += -Werror
endif
CFLAGS   ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -Ibuild/gen $(shell pkg-config --cflags $(PKGS))
BASEFLAGS = -std=gnu11 $(WARN) -fno-strict-aliasing -fstack-protector-strong -D_FORTIFY_SOURCE=2 -MMD -MP
LDLIBS   += $(shell pkg-config --libs $(PKGS))
LDFLAGS  += -Wl,--as-needed -Wl,-O1
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Plugins are linked fully static by default: a plugin's life is one short
# process, and skipping the dynamic loader halves its start-up cost (the
# floor every CNI call pays); they are also self-contained, so installers can
# copy them onto any node as the reference's Go binaries are.  Sanitizers
# and valgrind need a dynamic build.  Each flavour has its own tree, so a
# special build never replaces bin/ by accident; the test targets pick
# whichever BINDIR this build uses.
STATIC   ?= 1
ifeq ($(SANITIZE),1)
STATIC   := 0
BUILD    := build/san
BINDIR   := build/san/bin
BASEFLAGS += $(SANFLAGS)
LDFLAGS  += $(SANFLAGS)
else ifeq ($(VALGRIND),1)
STATIC   := 0
BUILD    := build/dyn
BINDIR   := build/dyn/bin
else ifeq ($(STATIC),0)
BUILD    := build/dyn
BINDIR   := build/dyn/bin
else
BUILD    := build/rel
BINDIR   := bin
endif
ifeq ($(STATIC),1)
# libmnl has no static archive in Debian, and linking libmnl.so would make
# every binary that may touch nftables (bridge, ptp, portmap) dynamic, which
# costs the dynamic loader on every call (measured here: a static plugin
# starts in ~0.55 ms, the same plugin linked dynamically in ~0.9 ms, best of
# 300 runs of VERSION).  So
# static builds link pkg/static/mnl.o, our own implementation of the part of
# the libmnl API that libnftnl.a and pkg/nft.c use; dynamic builds (STATIC=0,
# SANITIZE=1, VALGRIND=1) link the real libmnl, so the suites cover both.
STATIC_OBJ := $(BUILD)/pkg/static/nonss.o $(BUILD)/pkg/static/mnl.o
LINK_LIBS := $(shell pkg-config --static --libs json-c libnl-3.0 libnftnl | sed 's/-lmnl//')
LINK_PRE  := -static -Wl,--gc-sections $(STATIC_OBJ)
BASEFLAGS += -ffunction-sections -fdata-sections
else
STATIC_OBJ := $(BUILD)/pkg/static/nonss.o
LINK_LIBS := $(LDLIBS)
LINK_PRE  :=
endif
export BIN := $(abspath $(BINDIR))

# The shared library every binary links: protocol core + IPAM library.
LIB_SRC  := $(wildcard pkg/*.c) $(wildcard ipam/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libcnic.a

# What the interface plugins share (plugins/lib, l2util): it runs IPAM, so
# it is not in pkg/; linked by the plugins under plugins/.
PLIB_SRC := $(wildcard plugins/lib/*.c)
PLIB     := $(BUILD)/libcnic-plugins.a

# plugins/<name>/*.c -> bin/<name>; ipam/<name>/*.c -> bin/<name>
PLUGIN_DIRS := $(filter-out plugins/lib/,$(sort $(dir $(wildcard plugins/*/*.c ipam/*/*.c))))
PLUGINS     := $(foreach d,$(PLUGIN_DIRS),$(notdir $(d:%/=%)))
BINS        := $(PLUGINS:%=$(BINDIR)/%)

# Unit tests are always built with the sanitizers, against their own lib build.
UBUILD     := build/unit
UNIT_SRC   := $(wildcard test/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRC:test/unit/%.c=$(UBUILD)/%)
ULIB_OBJ   := $(LIB_SRC:%.c=$(UBUILD)/%.o)
ULIB_OBJ   += $(PLIB_SRC:%.c=$(UBUILD)/%.o)
ULIB       := $(UBUILD)/libcnic.a
UNIT_COMMON := $(wildcard test/unit/common/*.c)

.PHONY: all test unit integration vm e2e demo bench install clean deps deb dist portmap-scale FORCE
all: $(BINS)

# The version lives in a generated header rewritten only when `git describe`
# changes, so a commit rebuilds skel.o (a -D flag would not) and nothing else.
VERSION_H := build/gen/cnic-version.h
$(VERSION_H): FORCE
	@mkdir -p $(@D)
	@v='#define CNIC_VERSION "$(VERSION)"'; \
	[ "$$(cat $@ 2>/dev/null)" = "$$v" ] || echo "$$v" >$@
$(BUILD)/pkg/skel.o $(UBUILD)/pkg/skel.o build/fuzz/pkg/skel.o: $(VERSION_H)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BASEFLAGS) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(PLIB): $(PLIB_SRC:%.c=$(BUILD)/%.o)
	@rm -f $@
	$(AR) rcs $@ $^

define plugin_rule
$(BINDIR)/$(notdir $(1:%/=%)): $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)*.c)) $(if $(filter plugins/%,$(1)),$(PLIB)) $(LIB) $(STATIC_OBJ)
	@mkdir -p $(BINDIR)
	$$(CC) $$(BASEFLAGS) $$(LDFLAGS) $$(LINK_PRE) -o $$@ $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)*.c)) $(if $(filter plugins/%,$(1)),$$(PLIB)) $$(LIB) $$(LINK_LIBS)
endef
$(foreach d,$(PLUGIN_DIRS),$(eval $(call plugin_rule,$(d))))

$(UBUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARN) -MMD -MP $(SANFLAGS) -O1 -g $(CPPFLAGS) -c -o $@ $<

$(ULIB): $(ULIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(UBUILD)/test_%: $(UBUILD)/test/unit/test_%.o $(UNIT_COMMON:%.c=$(UBUILD)/%.o) $(ULIB)
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs cmocka)

# test_portmap links the portmap objects it tests (conditions, config, the
# owner index), not the plugin's verbs and main.
PM_UNIT_OBJ := $(patsubst %,$(UBUILD)/plugins/portmap/%.o,conds conf attachment)
$(UBUILD)/test_portmap: $(UBUILD)/test/unit/test_portmap.o $(PM_UNIT_OBJ) $(ULIB)
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs cmocka)

# test_bandwidth_tc links the plugin's tc requests (plugins/bandwidth/tc.o, nl.o).
$(UBUILD)/test_bandwidth_tc: $(UBUILD)/test/unit/test_bandwidth_tc.o $(UBUILD)/plugins/bandwidth/tc.o $(UBUILD)/plugins/bandwidth/nl.o $(ULIB)
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs cmocka)

# test_mnl runs over the real libmnl (the test_% rule); test_mnl_static, the
# same file, over pkg/static/mnl.c, the stand-in the static plugins link.
UNIT_BINS  += $(UBUILD)/test_mnl_static
$(UBUILD)/test_mnl_static: $(UBUILD)/test/unit/test_mnl.o $(UBUILD)/pkg/static/mnl.o
	$(CC) $(SANFLAGS) -o $@ $^ $(shell pkg-config --libs cmocka)

unit: $(UNIT_BINS)
	@test/unit/run.sh $(UNIT_BINS)

test: all $(UNIT_BINS)
	@test/run-all.sh

integration: all
	@test/integration/run.sh

vm: all
	@test/vm/run.sh

demo: all
	@scripts/demo.sh

# portmap ADD/CHECK/DEL with 1, 1000 and 65535 mappings in one attachment, ours and
# the reference (1 and 1000), and the new-connection packet path through them
# (test/bench/portmap-many.sh, the report's pmmany phase; docs/portmap.md).
portmap-scale: all
	@test/bench/portmap-many.sh

# Per-plugin cases (run.sh), then the interface plugins, which need a
# container netns per implementation (bridge.sh, l2.sh, devices.sh: brbench.c),
# and bandwidth (a fresh veth per run: bandwidth.sh).
bench: all
	@test/bench/run.sh
	@test/bench/bridge.sh
	@test/bench/l2.sh
	@test/bench/devices.sh
	@test/bench/bandwidth.sh

# Pods through real runtimes (containerd CRI, podman), 1/20/100 at once, ours
# vs the reference: ~30 min, so its own target (and a phase of bench-report),
# not part of make bench or make test.
.PHONY: bench-runtimes
bench-runtimes: all
	@test/bench/runtimes.sh

# Where the time goes (root): bridge ADD/CHECK/DEL at 0, 250 and 1000 attached, v4,
# v6 and ipMasq, against the floor; our phases from the debug log (test/bench/phases.sh).
.PHONY: bench-phases
bench-phases: all
	@test/bench/phases.sh

# The performance report: every benchmark in one run (see test/bench/report.sh).
.PHONY: bench-report
bench-report: all
	@test/bench/report.sh

# (root) Syscall error sweeps over every plugin and verb (docs/hardening.md),
# every failable call in both modes; `make test` runs a sample of it.
.PHONY: faults-sweep
faults-sweep: all
	@test/faults/sweep.sh

# Installed plugins are stripped (debug info is ~40% of a static binary and
# nodes never need it); INSTALL_STRIP= keeps it.  Each file is written under
# a temporary name and renamed over the old one, so a runtime exec'ing a
# plugin while a node is upgraded (or switched from the reference plugins)
# runs either the old binary or the new one, never a half-written file.
INSTALL_STRIP ?= -s
install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)
	@set -e; for b in $(BINS); do \
		n=$${b##*/}; \
		install -m 0755 $(INSTALL_STRIP) $$b $(DESTDIR)$(PREFIX)/.$$n.tmp; \
		mv -f $(DESTDIR)$(PREFIX)/.$$n.tmp $(DESTDIR)$(PREFIX)/$$n; \
		echo "  INSTALL $(DESTDIR)$(PREFIX)/$$n"; \
	done
	@scripts/cni-dirs.sh $(PREFIX) $(or $(DESTDIR),/)

# Packages from the same stripped binaries (scripts/package.sh, docs/packaging.md).
PKGDIR ?= build/pkg
deb: $(BINS)
	@scripts/package.sh deb $(DEB_VERSION) $(BINDIR) $(PKGDIR)

dist: $(BINS)
	@scripts/package.sh dist $(DEB_VERSION) $(BINDIR) $(PKGDIR)

deps:
	@scripts/install-deps.sh

# ---- lint (scripts/install-deps.sh installs both tools) ---------------------
#
#   make shellcheck    every shell script under scripts/ and test/ (.shellcheckrc)
#   make format        rewrite the C sources in place (.clang-format)
#   make format-check  exit 1 if `make format` would change anything
SH_SRC     = $(sort $(wildcard scripts/*.sh test/*.sh test/*/*.sh))
C_SRC      = $(sort $(wildcard pkg/*.[ch] pkg/*/*.[ch] ipam/*.[ch] ipam/*/*.[ch] plugins/*/*.[ch] \
		test/unit/*.[ch] test/unit/*/*.[ch] test/fuzz/*.[ch] test/bench/*.[ch]))
CLANG_FORMAT ?= clang-format

SHELLCHECK_FLAGS ?=

.PHONY: shellcheck sh-files format format-check arch-check
shellcheck:
	@shellcheck -S warning $(SHELLCHECK_FLAGS) $(SH_SRC)

# The list `make shellcheck` checks (test/run-all.sh's lint suite reports per file).
sh-files:
	@printf '%s\n' $(SH_SRC)

format:
	@$(CLANG_FORMAT) -i $(C_SRC)

# docs/architecture.md has a row for every C source; no source includes a .c.
arch-check:
	@scripts/check-architecture.sh

format-check:
	@$(CLANG_FORMAT) --dry-run --Werror $(C_SRC)

clean:
	rm -rf build bin

-include $(LIB_OBJ:.o=.d) $(ULIB_OBJ:.o=.d) $(shell find $(BUILD) $(UBUILD) -name '*.d' 2>/dev/null)

# Keep intermediate objects (the unit test .o files) between runs.
.SECONDARY:

# ---- fuzzing (test/fuzz, owned by the hardening work) -----------------------
#
#   make fuzz          every libFuzzer target for FUZZ_TIME seconds (default 120) each
#   make fuzz-build    build them only (build/fuzz/fuzz_*)
#   test/fuzz/run.sh   the brief CI run (part of `make test`), see its header
#
# The targets link the protocol core and the IPAM library compiled by clang
# with ASan + UBSan and libFuzzer's coverage instrumentation, in a tree of
# their own.  Only the parsers' modules are built (not the netlink/nftables
# code the fuzzers never reach), without -Werror: clang's warnings differ
# from gcc's, and a new clang warning must not break `make test`.
FUZZ_CC      ?= clang
FBUILD       := build/fuzz
FUZZ_TIME    ?= 120
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=gnu11 -g -O1 $(filter-out -Werror,$(WARN)) -MMD -MP $(FUZZ_SAN)
FUZZ_LIB_SRC := $(filter $(LIB_SRC),pkg/types_conf.c pkg/types_json.c pkg/types_result.c \
                pkg/args.c pkg/ipaddr.c pkg/error.c pkg/util.c pkg/log.c pkg/skel.c \
                pkg/netns.c pkg/nsfd.c pkg/rtnl.c pkg/rtnl_core.c pkg/invoke.c $(wildcard ipam/*.c) \
                pkg/nlsock.c pkg/mac.c)
FUZZ_LIB     := $(FBUILD)/libcnic.a
FUZZ_SRC     := $(wildcard test/fuzz/fuzz_*.c)
FUZZ_BINS    := $(FUZZ_SRC:test/fuzz/%.c=$(FBUILD)/%)

.PHONY: fuzz fuzz-build
$(FBUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(CPPFLAGS) -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_SRC:%.c=$(FBUILD)/%.o)
	@rm -f $@
	$(AR) rcs $@ $^

$(FBUILD)/fuzz_%: $(FBUILD)/test/fuzz/fuzz_%.o $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# fuzz_portmap links the plugin's objects but portmap.c (the verbs and main)
# and so the whole library.
FUZZ_FULL_LIB := $(FBUILD)/libcnic-full.a
$(FUZZ_FULL_LIB): $(LIB_SRC:%.c=$(FBUILD)/%.o)
	@rm -f $@
	$(AR) rcs $@ $^

$(FBUILD)/fuzz_portmap: $(FBUILD)/test/fuzz/fuzz_portmap.o \
		$(patsubst %.c,$(FBUILD)/%.o,$(filter-out plugins/portmap/portmap.c,$(wildcard plugins/portmap/*.c))) \
		$(FUZZ_FULL_LIB)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@FUZZ_TIME=$(FUZZ_TIME) test/fuzz/run.sh --long

-include $(shell find $(FBUILD) -name '*.d' 2>/dev/null)

# ---- dhcp (ipam/dhcp, docs/dhcp.md) -----------------------------------------
# t-dhcp.sh with 200 parallel containers instead of 50 (root, ~1 min).
.PHONY: test-dhcp-long
test-dhcp-long: all
	@DHCP_PARALLEL=200 DHCP_RESENDTIMEOUT=60s test/integration/run.sh t-dhcp.sh
