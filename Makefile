# kanary - canary releases for model servers, steered in the kernel.
#
#   make            build the BPF objects, kanaryd, kanaryctl, kanary-modelserver
#   make deps       install the Debian packages that build, tests and demo need
#   make test       deps + build + every test (as root); SANITIZE=1 for ASan+UBSan
#   make demo       deps + build + a real canary rollout in network namespaces
#   make bench      deps + build + benchmarks against the peers (QUICK=1: short)
#   make install    PREFIX=/usr/local DESTDIR=
#   V=1             show full commands
#
# Layout: bpf/ (kernel side), include/ (what both sides share), lib/ (the
# library: util, metrics, judge, datapath, config), kanaryd/ (the daemon),
# kanaryctl/ (the CLI), modelserver/ (demo and test backend), tests/, bench/,
# deploy/, docs/, vmlinux/.

# A sanitized build lives apart: make does not track flags, and mixing
# instrumented and plain objects does not link.
ifeq ($(SANITIZE),1)
OUTPUT ?= .output/sanitize
BIN ?= $(OUTPUT)/bin
else
OUTPUT ?= .output
BIN ?= bin
endif
PREFIX ?= /usr/local
DESTDIR ?=

CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

CFLAGS ?= -O2 -g
# Messages are bounded buffers on purpose: truncation is not an error.
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	  -Wno-missing-field-initializers -Wno-format-truncation \
	  -D_GNU_SOURCE -fno-strict-aliasing \
	  -Iinclude -Ilib -I. -I$(OUTPUT) $(EXTRA_DEFS)

ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	  -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) \
	      -Wall -Werror -Iinclude -Ivmlinux -Ibpf $(EXTRA_DEFS)

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
BPF_HDRS := $(wildcard bpf/*.h) $(wildcard include/*.h)

# User space, one object list per folder. Dependencies point one way:
#   lib/util      -> nothing of ours           (libkanary_util.a)
#   lib/...       -> lib/util                  (libkanary.a: metrics, judge,
#                                               datapath, config)
#   kanaryd/, kanaryctl/, modelserver/ -> the libraries, never each other
UTIL_SRCS := $(wildcard lib/util/*.c)
LIB_SRCS := $(wildcard lib/*.c lib/metrics/*.c lib/judge/*.c lib/datapath/*.c)
KANARYD_SRCS := $(wildcard kanaryd/*.c)
KANARYCTL_SRCS := $(wildcard kanaryctl/*.c)
MODEL_SRCS := $(wildcard modelserver/*.c)
obj = $(patsubst %.c,$(OUTPUT)/%.o,$(1))
UTIL_OBJS := $(call obj,$(UTIL_SRCS))
LIB_OBJS := $(call obj,$(LIB_SRCS))
KANARYD_OBJS := $(call obj,$(KANARYD_SRCS))
KANARYCTL_OBJS := $(call obj,$(KANARYCTL_SRCS))
MODEL_OBJS := $(call obj,$(MODEL_SRCS))
UTIL_LIB := $(OUTPUT)/libkanary_util.a
LIB := $(OUTPUT)/libkanary.a
DAEMON_LIB := $(OUTPUT)/libkanaryd.a
TEST_LIBS := $(DAEMON_LIB) $(LIB) $(UTIL_LIB)
# What each program links besides our own libraries.
DATAPATH_LDLIBS := -lbpf -lelf -lz
KANARYD_LDLIBS := $(DATAPATH_LDLIBS) -lmicrohttpd -ljansson -lcurl -lm -lpthread
KANARYCTL_LDLIBS := -ljansson -lcurl -lm
MODEL_LDLIBS := -lmicrohttpd -ljansson -lm -lpthread
TEST_LDLIBS := $(KANARYD_LDLIBS)
ALL_OBJS := $(UTIL_OBJS) $(LIB_OBJS) $(KANARYD_OBJS) $(KANARYCTL_OBJS) $(MODEL_OBJS)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))
BPFTEST_SRCS := $(wildcard tests/bpf/test_*.c)
BPFTEST_BINS := $(patsubst tests/bpf/%.c,$(OUTPUT)/tests/%,$(BPFTEST_SRCS))
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(OUTPUT)/tests/%,$(TOOL_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)

PROGRAMS := $(BIN)/kanaryd $(BIN)/kanaryctl $(BIN)/kanary-modelserver

.PHONY: all deps test test-build demo bench install uninstall clean format \
	check-format print-format-files vmlinux upgrade-build soak
.DELETE_ON_ERROR:
# Intermediate files make would delete: keeping them saves rebuilding the
# skeleton and every object that includes it.
.SECONDARY: $(BPF_OBJS) $(BPF_SKELS)

all: $(PROGRAMS)

deps:
	$(Q)scripts/deps.sh

# Tests need root, the kernel and bpffs; tests/run checks and says so.
test: deps
	$(Q)$(MAKE) --no-print-directory test-build
	$(Q)SANITIZE=$(SANITIZE) KANARY_OUTPUT=$(OUTPUT) KANARY_BIN=$(abspath $(BIN)) \
		tests/run $(TESTS)

test-build: all $(UNIT_BINS) $(BPFTEST_BINS) $(TOOL_BINS) upgrade-build

# The upgrade test installs this kanaryd over a running data path: the same
# sources with one field added to the flow table's values.
UPGRADE_OUTPUT := $(OUTPUT)/upgrade
upgrade-build:
	$(Q)$(MAKE) --no-print-directory OUTPUT=$(UPGRADE_OUTPUT) \
		BIN=$(UPGRADE_OUTPUT)/bin EXTRA_DEFS=-DKN_UPGRADE_TEST_FIELD \
		$(UPGRADE_OUTPUT)/bin/kanaryd

demo: deps
	$(Q)$(MAKE) --no-print-directory all $(TOOL_BINS)
	$(Q)demo/run.sh $(SCENARIO)

bench: deps
	$(Q)$(MAKE) --no-print-directory test-build $(BENCH_BINS)
	$(Q)QUICK=$(QUICK) KANARY_BIN=$(abspath $(BIN)) \
		KANARY_TOOLS=$(abspath $(OUTPUT))/tests \
		BENCH_OUTPUT=$(abspath $(OUTPUT)) bench/run.sh

# The soak (tests/soak/soak.sh): rollouts, restarts and load for SOAK (one
# hour by default, SOAK=10m for a short run); not part of `make test`.
# SOAK_REPORT=1 writes SOAK.md and tests/soak/plots/.
soak: deps
	$(Q)$(MAKE) --no-print-directory test-build
	$(Q)SOAK=$(SOAK) SOAK_REPORT=$(SOAK_REPORT) KANARY_BIN=$(abspath $(BIN)) \
		KANARY_TOOLS=$(abspath $(OUTPUT))/tests tests/soak/soak.sh

$(OUTPUT) $(OUTPUT)/tests $(BIN):
	$(Q)mkdir -p $@

# ---- BPF ------------------------------------------------------------------
$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) vmlinux/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o | $(OUTPUT)
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst .,_,$(subst -,_,$*))_bpf > $@

# ---- user space -----------------------------------------------------------
# -MMD -MP: each object depends on exactly the headers it includes. Only the
# data path's objects include the skeleton, so only they wait for it.
$(OUTPUT)/%.o: %.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(call obj,$(wildcard lib/datapath/*.c)): $(BPF_SKELS)
$(MODEL_OBJS): CFLAGS += -Imodelserver

$(UTIL_LIB): $(UTIL_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# The daemon's parts without its main, for the tests that drive them.
$(DAEMON_LIB): $(filter-out %/main.o,$(KANARYD_OBJS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BIN)/kanaryd: $(OUTPUT)/kanaryd/main.o $(DAEMON_LIB) $(LIB) $(UTIL_LIB) | $(BIN)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(KANARYD_LDLIBS) -o $@

$(BIN)/kanaryctl: $(KANARYCTL_OBJS) $(LIB) $(UTIL_LIB) | $(BIN)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(KANARYCTL_LDLIBS) -o $@

$(BIN)/kanary-modelserver: $(MODEL_OBJS) $(UTIL_LIB) | $(BIN)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(MODEL_LDLIBS) -o $@

-include $(ALL_OBJS:.o=.d)

# The corpus is assembled into corpus.o (.incbin, paths from the repository
# root), and the classifier's unit test compiles the model sources itself:
# both must follow the data and the sources.
MODEL_DATA := $(wildcard modelserver/data/*.tsv)
$(OUTPUT)/modelserver/corpus.o: $(MODEL_DATA)
$(OUTPUT)/tests/test_classifier: $(MODEL_SRCS) $(wildcard modelserver/*.h) $(MODEL_DATA)
# The status page is assembled into statuspage.o the same way.
$(OUTPUT)/kanaryd/statuspage.o: kanaryd/statuspage.html

# ---- tests ----------------------------------------------------------------
$(OUTPUT)/tests/test_%: tests/unit/test_%.c tests/unit/unit.h $(TEST_LIBS) | $(OUTPUT)/tests
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) $< $(TEST_LIBS) $(TEST_LDLIBS) -lcmocka -o $@

# The BPF tests (tests/bpf): test_datapath runs one file a feature from
# tests/bpf/prog_tests/, each `void test_<name>(void)`; its table is generated
# from them, as the kernel's selftests do. test_packet_fuzz is its main over
# the parts in tests/bpf/packet_fuzz/. Both share the runner and assertions.
BPFTEST_RUNNER := tests/bpf/bpf_test.c
DATAPATH_TEST_SRCS := tests/bpf/test_datapath.c tests/bpf/harness.c \
		      $(wildcard tests/bpf/prog_tests/*.c)
PACKET_FUZZ_SRCS := tests/bpf/test_packet_fuzz.c \
		    $(wildcard tests/bpf/packet_fuzz/*.c)
BPFTEST_OBJS := $(call obj,$(BPFTEST_RUNNER) $(DATAPATH_TEST_SRCS) \
		$(PACKET_FUZZ_SRCS))
$(BPFTEST_OBJS): CFLAGS += -Itests/bpf -Itests

DATAPATH_TEST_LIST := $(OUTPUT)/tests/bpf/prog_tests.h
$(DATAPATH_TEST_LIST): $(wildcard tests/bpf/prog_tests/*.c)
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)sed -n 's/^void test_\([a-z0-9_]*\)(void)$$/DEFINE_TEST(\1)/p' \
		$^ >$@
$(call obj,tests/bpf/test_datapath.c): $(DATAPATH_TEST_LIST)

$(OUTPUT)/tests/test_datapath: $(call obj,$(DATAPATH_TEST_SRCS))
$(OUTPUT)/tests/test_packet_fuzz: $(call obj,$(PACKET_FUZZ_SRCS))
$(BPFTEST_BINS): $(call obj,$(BPFTEST_RUNNER)) $(TEST_LIBS) | $(OUTPUT)/tests
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $(filter %.o,$^) $(TEST_LIBS) $(TEST_LDLIBS) -o $@

-include $(BPFTEST_OBJS:.o=.d)

$(OUTPUT)/tests/%: tests/tools/%.c $(wildcard tests/tools/*.h) $(TEST_LIBS) | $(OUTPUT)/tests
	$(call msg,TOOL,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(TEST_LIBS) $(TEST_LDLIBS) -o $@

# ---- bench ----------------------------------------------------------------
# pktcost drives the real programs through bpf_prog_test_run_opts, loaded by
# the agent's own loader, like the BPF tests.
BENCH_BINS := $(OUTPUT)/bench/pktcost

$(OUTPUT)/bench/pktcost: bench/pktcost.c tests/bpf/packets.h tests/bpf/prog_run.h $(TEST_LIBS) $(BPF_SKELS)
	$(call msg,BENCH,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Itests/bpf $(LDFLAGS) $< $(TEST_LIBS) $(TEST_LDLIBS) -o $@

# ---- install --------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)/etc/kanary $(DESTDIR)/lib/systemd/system
	install -m 0755 $(BIN)/kanaryd $(DESTDIR)$(PREFIX)/sbin/kanaryd
	install -m 0755 $(BIN)/kanaryctl $(DESTDIR)$(PREFIX)/bin/kanaryctl
	install -m 0755 $(BIN)/kanary-modelserver $(DESTDIR)$(PREFIX)/bin/kanary-modelserver
	install -m 0644 docs/man/kanaryd.8 $(DESTDIR)$(PREFIX)/share/man/man8/kanaryd.8
	install -m 0644 docs/man/kanaryctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/kanaryctl.1
	install -m 0644 deploy/systemd/kanaryd.service $(DESTDIR)/lib/systemd/system/kanaryd.service
	install -m 0600 deploy/examples/vllm-node.json $(DESTDIR)/etc/kanary/config.json.example

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/kanaryd $(DESTDIR)$(PREFIX)/bin/kanaryctl \
		$(DESTDIR)$(PREFIX)/bin/kanary-modelserver \
		$(DESTDIR)$(PREFIX)/share/man/man8/kanaryd.8 \
		$(DESTDIR)$(PREFIX)/share/man/man1/kanaryctl.1 \
		$(DESTDIR)/lib/systemd/system/kanaryd.service

vmlinux:
	vmlinux/gen.sh

# Every C file of the tree; tests/static/format.sh checks them in make test.
FORMAT_FILES = $(wildcard lib/*.[ch] lib/*/*.[ch] kanaryd/*.[ch] \
	kanaryctl/*.[ch] bpf/*.[ch] include/*.h modelserver/*.[ch] \
	tests/*/*.[ch] tests/bpf/*/*.[ch] bench/*.[ch])

format:
	clang-format -i $(FORMAT_FILES)

check-format:
	clang-format --dry-run --Werror $(FORMAT_FILES)

print-format-files:
	@printf '%s\n' $(FORMAT_FILES)

clean:
	rm -rf $(OUTPUT) $(BIN)

# ---- fuzzing (tests/fuzz) ----------------------------------------------------
# libFuzzer targets, built with clang and ASan + UBSan. The library is built
# again with coverage instrumentation into $(OUTPUT)/fuzz, apart from the
# normal build; the targets link it like kanaryd does.
#
#   make fuzz FUZZ_TIME=600   build, then run every target FUZZ_TIME seconds
#                             (FUZZ_JOBS at once; new inputs and crashes go
#                             to $(OUTPUT)/fuzz, never to the seed corpus)
#   make fuzz-build           build only
#
# tests/fuzz/run.sh runs them; tests/e2e/fuzz_smoke.sh is the short check in
# `make test`. fuzz_api and fuzz_http need root and bpffs, like kanaryd.
FUZZ_CC ?= clang
FUZZ_TIME ?= 600
FUZZ_JOBS ?= $(shell nproc)
FUZZ_OUT := $(OUTPUT)/fuzz
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer -std=gnu11 -Wall -Wextra \
	       -Werror -Wshadow -Wformat=2 -Wno-missing-field-initializers \
	       -D_GNU_SOURCE -fno-strict-aliasing -Iinclude -Ilib -I. -I$(OUTPUT) \
	       -fsanitize=address,undefined -fno-sanitize-recover=undefined
# clang, unlike gcc, counts a va_list passed on to vsnprintf as a
# non-literal format (kanaryd/api.c's libmicrohttpd logger).
FUZZ_LIB_CFLAGS := $(FUZZ_CFLAGS) -Wno-format-nonliteral
FUZZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_OUT)/%.o,$(UTIL_SRCS) $(LIB_SRCS) \
		 $(filter-out kanaryd/main.c,$(KANARYD_SRCS)))
FUZZ_LIB := $(FUZZ_OUT)/libkanary.a
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FUZZ_OUT)/%,$(FUZZ_SRCS))

.PHONY: fuzz fuzz-build

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	$(Q)FUZZ_OUT=$(FUZZ_OUT) tests/fuzz/run.sh --time $(FUZZ_TIME) \
		--jobs $(FUZZ_JOBS)

$(FUZZ_OUT)/%.o: %.c
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_LIB_CFLAGS) -MMD -MP -fsanitize=fuzzer-no-link -c $< -o $@

$(patsubst %.c,$(FUZZ_OUT)/%.o,$(wildcard lib/datapath/*.c)): $(BPF_SKELS)
$(FUZZ_OUT)/kanaryd/statuspage.o: kanaryd/statuspage.html
-include $(FUZZ_LIB_OBJS:.o=.d)

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/*.h tests/lib/*.h $(FUZZ_LIB)
	$(call msg,FUZZ,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB) \
		$(TEST_LDLIBS) -o $@
# ---- end of fuzzing ----------------------------------------------------------
