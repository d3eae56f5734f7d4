# Makefile: builds pulsed, libpulse-client, pulsectl, the examples and the
# tests, installs them, and runs the test suites.
#
# Sources are found with wildcards, one directory per product:
#   proto/*.c             the I/O-free codec, linked into pulsed and the library
#   daemon/*.c            build/pulsed (main() in daemon/main.c); all but main.o
#                         also make build/libpulsed.a for the unit tests
#   daemon/lua/*.lua      embedded as build/gen/scripts.c (mk/embed-lua.sh)
#   client/*.c            build/libpulse-client.so.2.0.0 (+ .so.2, .so) and .a
#   client/pulsectl/*.c   build/pulsectl
#   client/examples/*.c   build/examples/<name>, one program per file
#   tests/tools/*.c       build/tests/<name>, one program per file
#   tests/unit/test_*.c   build/tests/test_<name>, each with Check; other
#                         tests/unit/*.c are helpers linked into every one
#
# Everything goes under $(BUILD) (default build/); `make asan` uses
# build-asan/ with AddressSanitizer and UBSan. `make help` lists targets.

.DEFAULT_GOAL := all
.SUFFIXES:
.DELETE_ON_ERROR:

BUILD ?= build
ifeq ($(BUILD),build-asan)
SANITIZE ?= 1
endif

ifeq ($(origin CC),default)
CC := gcc
endif
AR ?= ar
PKG_CONFIG ?= pkg-config
FUZZ_CC ?= clang

VERSION := $(or $(shell sed -n 's/^\#define PULSED_VERSION "\(.*\)"/\1/p' daemon/pulsed.h 2>/dev/null),0.1.0)
# 2: pulse_handlers gained `message` (keyed messages): a program built
# against a version 1 header passes a smaller struct, so it must not load
# this library
SOMAJOR := 2
SOVERSION := 2.0.0

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR ?= $(DATADIR)/zsh/site-functions
DESTDIR ?=

# `make V=1` shows every command.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' '$(1)' '$(2)'
endif

# ---------------------------------------------------------------------------
# Libraries through pkg-config, queried once and only when a recipe needs
# them, so that `make deps`, `make clean` and `make help` work without them.

# msgpack-c's file is msgpack.pc up to Debian 12 and msgpack-c.pc after.
MSGPACK_PC = $(eval MSGPACK_PC := $(shell $(PKG_CONFIG) --exists msgpack-c 2>/dev/null && echo msgpack-c || echo msgpack))$(MSGPACK_PC)

pkg_query = $(if $(shell $(PKG_CONFIG) --exists $(1) 2>/dev/null && echo ok),$(shell $(PKG_CONFIG) $(2) $(1)),$(error pkg-config cannot find '$(1)': run 'make deps'))

# $(call lazy,VAR,pkg,flag): VAR is computed on first use, then kept.
define lazy
$(1) = $$(eval $(1) := $$(call pkg_query,$(2),$(3)))$$($(1))
endef
$(eval $(call lazy,HIREDIS_CFLAGS,hiredis,--cflags))
$(eval $(call lazy,HIREDIS_LIBS,hiredis,--libs))
$(eval $(call lazy,EVENT_CFLAGS,libevent,--cflags))
$(eval $(call lazy,EVENT_LIBS,libevent,--libs))
# TLS to Redis (daemon/tls.c): libevent's OpenSSL bufferevents and OpenSSL
# (README, "TLS"). libevent-dev ships libevent_openssl.pc; libssl-dev openssl.pc.
$(eval $(call lazy,EVENT_SSL_CFLAGS,libevent_openssl,--cflags))
$(eval $(call lazy,EVENT_SSL_LIBS,libevent_openssl,--libs))
$(eval $(call lazy,SSL_CFLAGS,openssl,--cflags))
$(eval $(call lazy,SSL_LIBS,openssl,--libs))
$(eval $(call lazy,JANSSON_CFLAGS,jansson,--cflags))
$(eval $(call lazy,JANSSON_LIBS,jansson,--libs))
$(eval $(call lazy,CHECK_CFLAGS,check,--cflags))
$(eval $(call lazy,CHECK_LIBS,check,--libs))
MSGPACK_CFLAGS = $(eval MSGPACK_CFLAGS := $(call pkg_query,$(MSGPACK_PC),--cflags))$(MSGPACK_CFLAGS)
MSGPACK_LIBS = $(eval MSGPACK_LIBS := $(call pkg_query,$(MSGPACK_PC),--libs))$(MSGPACK_LIBS)

# ---------------------------------------------------------------------------
# Flags. CFLAGS/LDFLAGS from the environment are honoured; CFLAGS_EXTRA and
# LDFLAGS_EXTRA add to them from the command line.

BASE_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer
SAN_FLAGS := $(if $(filter 1,$(SANITIZE)),$(ASAN_FLAGS))
DEP_FLAGS = -MMD -MP
ALL_CFLAGS = $(BASE_CFLAGS) $(SAN_FLAGS) $(CPPFLAGS) $(CFLAGS) $(CFLAGS_EXTRA) \
	$(MSGPACK_CFLAGS) $(DIR_CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS) $(LDFLAGS_EXTRA)

DAEMON_LIBS = $(HIREDIS_LIBS) $(EVENT_SSL_LIBS) $(EVENT_LIBS) $(SSL_LIBS) $(MSGPACK_LIBS) $(JANSSON_LIBS) -lm
CLIENT_LIBS = $(MSGPACK_LIBS)

# ---------------------------------------------------------------------------
# Sources and products.

PROTO_SRCS   := $(sort $(wildcard proto/*.c))
DAEMON_SRCS  := $(sort $(wildcard daemon/*.c))
DAEMON_MAIN  := $(filter daemon/main.c,$(DAEMON_SRCS))
LUA_SRCS     := $(sort $(wildcard daemon/lua/*.lua))
CLIENT_SRCS  := $(sort $(wildcard client/*.c))
CTL_SRCS     := $(sort $(wildcard client/pulsectl/*.c))
EXAMPLE_SRCS := $(sort $(wildcard client/examples/*.c))
TOOL_SRCS    := $(sort $(wildcard tests/tools/*.c))
UNIT_SRCS    := $(sort $(wildcard tests/unit/test_*.c))
UNIT_HELPERS := $(filter-out $(UNIT_SRCS),$(sort $(wildcard tests/unit/*.c)))
FUZZ_SRCS    := $(sort $(wildcard tests/fuzz/fuzz_*.c))
BENCH_SRCS   := $(sort $(wildcard tests/bench/*.c))

OBJ := $(BUILD)/obj
PIC := $(BUILD)/obj-pic
GEN := $(BUILD)/gen

obj = $(patsubst %.c,$(OBJ)/%.o,$(1))
pic = $(patsubst %.c,$(PIC)/%.o,$(1))

PROTO_OBJS   := $(call obj,$(PROTO_SRCS))
SCRIPTS_OBJ  := $(if $(DAEMON_SRCS),$(OBJ)/gen/scripts.o)
DAEMON_OBJS  := $(call obj,$(DAEMON_SRCS)) $(SCRIPTS_OBJ)
DAEMON_LIBOBJS := $(filter-out $(OBJ)/daemon/main.o,$(DAEMON_OBJS))
CLIENT_OBJS  := $(call pic,$(CLIENT_SRCS) $(PROTO_SRCS))
CTL_OBJS     := $(call obj,$(CTL_SRCS))
UNIT_HELPER_OBJS := $(call obj,$(UNIT_HELPERS))

PULSED      := $(if $(DAEMON_MAIN),$(BUILD)/pulsed)
LIBPULSED   := $(if $(DAEMON_LIBOBJS),$(BUILD)/libpulsed.a)
LIB_SO_REAL := $(BUILD)/libpulse-client.so.$(SOVERSION)
LIB_SO_MAJ  := $(BUILD)/libpulse-client.so.$(SOMAJOR)
LIB_SO      := $(BUILD)/libpulse-client.so
LIB_A       := $(BUILD)/libpulse-client.a
LIBS_CLIENT := $(if $(CLIENT_SRCS),$(LIB_SO_REAL) $(LIB_SO_MAJ) $(LIB_SO) $(LIB_A) $(BUILD)/libpulse-client.pc)
PULSECTL    := $(if $(CTL_SRCS),$(BUILD)/pulsectl)
EXAMPLES    := $(patsubst client/examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_SRCS))
TOOLS       := $(patsubst tests/tools/%.c,$(BUILD)/tests/%,$(TOOL_SRCS))
UNIT_BINS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
PUB_HEADER  := $(BUILD)/include/pulsed/pulse.h

# The library exports the API of client/pulse.h only: through
# client/libpulse-client.map when it exists, else a generated one.
LIB_MAP := $(if $(wildcard client/libpulse-client.map),client/libpulse-client.map,$(GEN)/libpulse-client.map)

ALL_PRODUCTS := $(PULSED) $(LIBPULSED) $(LIBS_CLIENT) $(PULSECTL) $(EXAMPLES) $(TOOLS)

# ---------------------------------------------------------------------------
# Targets.

.PHONY: all asan unit integration integration-acl integration-tls integration-valkey deps-valkey layers docs test test-asan test-valgrind test-repeat chaos chaos-short \
	chaos-run chaos-repeat fuzz fuzz-replay bench \
	run deps install uninstall clean help verify-unit FORCE

all: $(ALL_PRODUCTS)
	@$(if $(PULSED),,echo "make: warning: no daemon/main.c yet: pulsed not built" >&2;) \
	 $(if $(CLIENT_SRCS),,echo "make: warning: no client/*.c yet: libpulse-client not built" >&2;) \
	 $(if $(PULSECTL),,echo "make: warning: no client/pulsectl/*.c yet: pulsectl not built" >&2;) \
	 true

help:
	@echo 'make [all]            build pulsed, pulsectl, libpulse-client (.so, .a), examples, test tools into $(BUILD)/'
	@echo 'make deps             install the Debian packages the build and tests need (root), or print the apt-get line'
	@echo 'make unit             build and run the Check unit tests'
	@echo 'make integration      run the pytest integration suite against $(BUILD)/'
	@echo 'make test             deps, layers (and docs), all, unit, fuzz-replay, integration, integration-acl, integration-tls, chaos-short, soak-short, model-check-short (what .ci/run runs)'
	@echo 'make integration-tls  the core integration tests with Redis over TLS only (rediss://)'
	@echo 'make integration-valkey the integration suite and its ACL core against valkey-server (VALKEY_SERVER=); installs it (deps-valkey)'
	@echo 'make deps-valkey      install valkey-server and valkey-cli (Debian 12: adds bookworm-backports to apt sources when missing)'
	@echo 'make layers           the daemon files call only down (tests/tools/layers.py --stats: the figures); runs docs first'
	@echo 'make docs             libpulse-client(3) documents every function and type of client/pulse.h'
	@echo 'make test-repeat N=20 run the integration suite N times, stop at the first failure'
	@echo 'make test-valgrind    the integration suite with every pulsed under valgrind'
	@echo 'make asan             build everything into build-asan/ with ASan and UBSan'
	@echo 'make test-asan        unit, fuzz-replay, integration and chaos-short against build-asan/'
	@echo 'make run              start a private Redis and pulsed, run the demo, wait for Ctrl-C (DEMO_ONLY=1 to exit after the demo)'
	@echo 'make chaos            the fault matrix of tests/chaos (CHAOS_SECONDS=6 per fault, CHAOS_JOBS=3000)'
	@echo 'make chaos-repeat N=20 make chaos N times, stop at the first failure'
	@echo 'make fuzz             libFuzzer targets of tests/fuzz (FUZZ_SECONDS=20 each)'
	@echo 'make fuzz-replay      the fuzz targets over their seed corpora and regression inputs (gcc, no clang)'
	@echo 'make soak             random seeded operations and faults for SOAK_MINUTES (tests/soak); soak-short: SOAK_SEEDS seeds + regressions'
	@echo 'make model-check      the ownership model (tests/model, spin): every configuration, OLD_* models must fail (about 20 min)'
	@echo 'make model-check-short the model drift check, small configurations and the OLD_FLUSH/OLD_GHOST counterexamples (make test)'
	@echo 'make model-hashes     record daemon/lua hashes for the model drift check anew, once the model steps were checked'
	@echo 'make bench            DESIGN.md section 4 figures: table and $(BUILD)/bench.json (BENCH_ARGS=--quick)'
	@echo 'make install          PREFIX=$(PREFIX) DESTDIR= SYSCONFDIR=$(SYSCONFDIR); make uninstall'
	@echo 'make verify-unit      systemd-analyze verify on systemd/pulsed.service, systemd-sysusers on pulsed.sysusers (user pulsed)'
	@echo 'make clean            remove build/ and build-asan/'
	@echo 'Variables: CC, CFLAGS_EXTRA, LDFLAGS_EXTRA, BUILD, V=1, PYTEST_ARGS'

asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 all

deps:
	$(Q)bash mk/deps.sh

# Opt-in: valkey-server and valkey-cli for integration-valkey (on Debian 12
# from bookworm-backports, whose apt source it adds when missing).
deps-valkey:
	$(Q)bash mk/deps-valkey.sh

# --- the daemon ------------------------------------------------------------

$(OBJ)/daemon/%.o $(OBJ)/gen/%.o: DIR_CFLAGS = -Idaemon -Iproto $(HIREDIS_CFLAGS) $(EVENT_CFLAGS) $(JANSSON_CFLAGS) \
	$(EVENT_SSL_CFLAGS) $(SSL_CFLAGS)
$(OBJ)/proto/%.o $(PIC)/proto/%.o: DIR_CFLAGS = -Iproto

ifneq ($(PULSED),)
$(PULSED): $(call obj,$(DAEMON_SRCS)) $(SCRIPTS_OBJ) $(PROTO_OBJS) $(BUILD)/lists/daemon.list
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(DAEMON_LIBS)
endif

$(LIBPULSED): $(DAEMON_LIBOBJS) $(BUILD)/lists/daemon.list
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $(filter %.o,$^)

# The embedded Lua scripts. lua.list changes when a file is added or
# removed, so that the table is regenerated then too.
$(GEN)/scripts.c: $(LUA_SRCS) mk/embed-lua.sh $(BUILD)/lists/lua.list
	$(call say,GEN,$@)
	$(Q)mkdir -p $(@D) && bash mk/embed-lua.sh $@ $(LUA_SRCS)

$(OBJ)/gen/%.o: $(GEN)/%.c
	$(call say,CC,$<)
	$(Q)mkdir -p $(@D) && $(CC) $(ALL_CFLAGS) $(DEP_FLAGS) -c -o $@ $<

# $(BUILD)/lists/NAME.list holds a file list and is rewritten only when the
# list changes: products depend on it to notice removed files.
$(BUILD)/lists/daemon.list: FORCE
	@mkdir -p $(@D) && echo '$(DAEMON_SRCS) $(PROTO_SRCS)' | cmp -s - $@ || echo '$(DAEMON_SRCS) $(PROTO_SRCS)' > $@
$(BUILD)/lists/lua.list: FORCE
	@mkdir -p $(@D) && echo '$(LUA_SRCS)' | cmp -s - $@ || echo '$(LUA_SRCS)' > $@
$(BUILD)/lists/client.list: FORCE
	@mkdir -p $(@D) && echo '$(CLIENT_SRCS) $(PROTO_SRCS)' | cmp -s - $@ || echo '$(CLIENT_SRCS) $(PROTO_SRCS)' > $@
$(BUILD)/lists/ctl.list: FORCE
	@mkdir -p $(@D) && echo '$(CTL_SRCS)' | cmp -s - $@ || echo '$(CTL_SRCS)' > $@
FORCE:

# --- the client library ----------------------------------------------------

$(PIC)/client/%.o: DIR_CFLAGS = -Iclient -Iproto -I$(BUILD)/include
$(PIC)/%.o: %.c
	$(call say,CC,$< [pic])
	$(Q)mkdir -p $(@D) && $(CC) $(ALL_CFLAGS) -fPIC $(DEP_FLAGS) -c -o $@ $<

# The generated map lists the pulse_* functions that client/pulse.h
# declares (the codec's pulse_* helpers stay inside).
$(GEN)/libpulse-client.map: client/pulse.h
	$(Q)mkdir -p $(@D) && { printf '{\n\tglobal:\n'; \
		grep -o '\bpulse_[A-Za-z0-9_]*[[:space:]]*(' $< | tr -d '( \t' | sort -u | sed 's/^/\t\t/; s/$$/;/'; \
		printf '\tlocal:\n\t\t*;\n};\n'; } > $@.tmp && mv $@.tmp $@

$(LIB_SO_REAL): $(CLIENT_OBJS) $(LIB_MAP) $(BUILD)/lists/client.list
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -shared -Wl,-soname,libpulse-client.so.$(SOMAJOR) \
		-Wl,--version-script=$(LIB_MAP) -Wl,--no-undefined \
		-o $@ $(filter %.o,$^) $(CLIENT_LIBS)
$(LIB_SO_MAJ): $(LIB_SO_REAL)
	$(Q)ln -sf $(notdir $<) $@
$(LIB_SO): $(LIB_SO_MAJ)
	$(Q)ln -sf $(notdir $<) $@
$(LIB_A): $(CLIENT_OBJS) $(BUILD)/lists/client.list
	$(call say,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $(filter %.o,$^)

# Programs built in the tree include "pulse.h" or <pulsed/pulse.h>, as
# installed programs do.
$(PUB_HEADER): client/pulse.h
	$(Q)mkdir -p $(@D) && cp $< $@

PC_LIBDIR := $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
PC_INCLUDEDIR := $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))
$(BUILD)/libpulse-client.pc: client/libpulse-client.pc.in FORCE
	$(Q)mkdir -p $(@D) && sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(PC_LIBDIR)|g' \
		-e 's|@INCLUDEDIR@|$(PC_INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
		-e 's|@MSGPACK_PC@|$(MSGPACK_PC)|g' $< > $@.tmp && \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

# --- pulsectl, examples, test tools ----------------------------------------

$(OBJ)/client/pulsectl/%.o: DIR_CFLAGS = -Iclient/pulsectl -Iclient -Iproto -I$(BUILD)/include $(JANSSON_CFLAGS)
$(OBJ)/client/examples/%.o: DIR_CFLAGS = -Iclient -I$(BUILD)/include
$(OBJ)/tests/tools/%.o: DIR_CFLAGS = -Itests/tools -Iclient -Iproto -I$(BUILD)/include $(JANSSON_CFLAGS)

$(CTL_OBJS) $(call obj,$(EXAMPLE_SRCS) $(TOOL_SRCS)) $(call pic,$(CLIENT_SRCS)): | $(PUB_HEADER)

ifneq ($(PULSECTL),)
$(PULSECTL): $(CTL_OBJS) $(LIB_A) $(BUILD)/lists/ctl.list
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(CTL_OBJS) $(LIB_A) $(JANSSON_LIBS) $(CLIENT_LIBS) -lm
endif

$(BUILD)/examples/%: $(OBJ)/client/examples/%.o $(LIB_A)
	$(call say,LINK,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB_A) $(CLIENT_LIBS) -lm

$(TOOLS): $(BUILD)/tests/%: $(OBJ)/tests/tools/%.o $(LIB_A)
	$(call say,LINK,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB_A) $(JANSSON_LIBS) $(CLIENT_LIBS) -lm

# --- unit tests ------------------------------------------------------------

$(OBJ)/tests/unit/%.o: DIR_CFLAGS = -Itests/unit -Idaemon -Iproto -Iclient -I$(BUILD)/include \
	$(HIREDIS_CFLAGS) $(EVENT_CFLAGS) $(JANSSON_CFLAGS) $(CHECK_CFLAGS)
$(call obj,$(UNIT_SRCS) $(UNIT_HELPERS)): | $(PUB_HEADER) $(if $(DAEMON_SRCS),$(GEN)/scripts.c)

UNIT_LINK = $(UNIT_HELPER_OBJS) $(LIBPULSED) $(PROTO_OBJS) $(if $(CLIENT_SRCS),$(LIB_A))
$(UNIT_BINS): $(BUILD)/tests/%: $(OBJ)/tests/unit/%.o $(UNIT_LINK)
	$(call say,LINK,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(ALL_LDFLAGS) -o $@ $< $(UNIT_LINK) $(CHECK_LIBS) $(DAEMON_LIBS)

unit: $(UNIT_BINS)
	$(Q)bash mk/run-unit.sh $(UNIT_BINS)

# --- generic compile rule --------------------------------------------------

$(OBJ)/%.o: %.c
	$(call say,CC,$<)
	$(Q)mkdir -p $(@D) && $(CC) $(ALL_CFLAGS) $(DEP_FLAGS) -c -o $@ $<

-include $(shell find $(BUILD)/obj $(BUILD)/obj-pic $(BUILD)/fuzz/obj -name '*.d' 2>/dev/null)

# --- test suites -----------------------------------------------------------

ABS_BUILD = $(abspath $(BUILD))
# Parallel sub-builds unless the caller already chose -j.
NPROC := $(shell nproc 2>/dev/null || echo 2)
PARALLEL = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(NPROC))

# The daemon's files call only down (tests/tools/layers.txt); the
# checker tests itself first. The tree's other static check, docs, runs
# with it: like it, it reads sources and needs no build.
layers: docs
	$(Q)/usr/bin/python3 tests/tools/layers.py --self-test
	$(Q)/usr/bin/python3 tests/tools/layers.py

# libpulse-client(3) documents every function (a synopsis line and a
# description) and names every type that client/pulse.h declares.
docs:
	$(Q)/usr/bin/python3 tests/tools/apidoc.py --self-test
	$(Q)/usr/bin/python3 tests/tools/apidoc.py

integration: all
	$(Q)PULSE_BUILD=$(ABS_BUILD) bash tests/run-integration.sh $(PYTEST_ARGS)

# The core of the suite as a Redis ACL user with exactly the rights the
# README's "The Redis user pulsed needs" lists (read from there), over TCP
# and over the Unix socket.
ACL_TESTS := tests/integration/test_single_node.py tests/integration/test_multi_node.py \
	tests/integration/test_shutdown.py tests/integration/test_tickers.py \
	tests/integration/test_schedules.py
integration-acl: all
	$(Q)for via in tcp unix; do \
		echo "integration-acl: as the README's ACL user, over $$via"; \
		PULSE_TEST_ACL=$$via PULSE_TEST_DIR="$(ACL_TESTS)" PULSE_BUILD=$(ABS_BUILD) \
			bash tests/run-integration.sh $(PYTEST_ARGS) || exit 1; \
	done

# The same core of the suite with the harness's Redis over TLS only
# (rediss://, a test CA made by tests/integration/tlsutil.py; its TCP port
# is TLS, so nothing reaches it in the clear), plus tests/integration/
# test_tls.py runs in the plain suite.
integration-tls: all
	$(Q)echo "integration-tls: the core of the suite over TLS (rediss://)"; \
	PULSE_TEST_TLS=1 PULSE_TEST_DIR="$(ACL_TESTS)" PULSE_BUILD=$(ABS_BUILD) \
		bash tests/run-integration.sh $(PYTEST_ARGS)

# The integration suite, and its ACL core, against Valkey instead of Redis
# (README, "Valkey"): every test's server is $(VALKEY_SERVER) and its
# valkey-cli (tests/integration/harness.py, PULSE_REDIS_SERVER). Installs
# Valkey first (deps-valkey: on Debian 12 from bookworm-backports).
VALKEY_SERVER ?= /usr/bin/valkey-server
integration-valkey: all
	$(Q)$(MAKE) --no-print-directory deps-valkey
	$(Q)echo "integration-valkey: $$($(VALKEY_SERVER) --version | head -1)"
	$(Q)PULSE_REDIS_SERVER=$(VALKEY_SERVER) $(MAKE) --no-print-directory integration
	$(Q)PULSE_REDIS_SERVER=$(VALKEY_SERVER) $(MAKE) --no-print-directory integration-acl

test:
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory layers
	$(Q)$(MAKE) --no-print-directory $(PARALLEL) all
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory fuzz-replay
	$(Q)$(MAKE) --no-print-directory integration
	$(Q)$(MAKE) --no-print-directory integration-acl
	$(Q)$(MAKE) --no-print-directory integration-tls
	$(Q)$(MAKE) --no-print-directory chaos-short
	$(Q)SOAK_SEEDS=2 $(MAKE) --no-print-directory soak-short
	$(Q)$(MAKE) --no-print-directory model-check-short

test-asan:
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory $(PARALLEL) BUILD=build-asan SANITIZE=1 all
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 unit
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 fuzz-replay
	$(Q)PULSE_TEST_SLOW=2 $(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 integration
	$(Q)PULSE_TEST_SLOW=2 $(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 chaos-short

# The integration suite with every pulsed under valgrind (memcheck): a
# test fails when a pulsed's valgrind log reports an error or a definite
# leak. Deadlines and TTLs stretch by PULSE_TEST_SLOW=5.
test-valgrind:
	$(Q)DEPS_EXTRA=valgrind $(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory $(PARALLEL) all
	$(Q)PULSE_VALGRIND=1 PULSE_TEST_SLOW=$${PULSE_TEST_SLOW:-5} $(MAKE) --no-print-directory integration

N ?= 20
test-repeat: all
	$(Q)for i in $$(seq 1 $(N)); do \
		echo "== test-repeat: run $$i of $(N)"; \
		PULSE_BUILD=$(ABS_BUILD) bash tests/run-integration.sh $(PYTEST_ARGS) || \
			{ echo "test-repeat: run $$i of $(N) failed"; exit 1; }; \
	done; echo "test-repeat: all $(N) runs passed"

# A suite directory is run by its run.sh when it has one, else with pytest
# when it has test_*.py files; an empty one is not implemented yet.
define suite
	$(Q)if [ -f tests/$(1)/run.sh ]; then \
		PULSE_BUILD=$(ABS_BUILD) bash tests/$(1)/run.sh; \
	elif ls tests/$(1)/test_*.py >/dev/null 2>&1; then \
		PULSE_BUILD=$(ABS_BUILD) PULSE_TEST_DIR=tests/$(1) bash tests/run-integration.sh $(PYTEST_ARGS); \
	elif [ -n "$$(ls -A tests/$(1) 2>/dev/null)" ]; then \
		echo "make $(1): tests/$(1) has neither run.sh nor test_*.py" >&2; exit 1; \
	else \
		echo "make $(1): not implemented yet (nothing under tests/$(1))" >&2; exit 1; \
	fi
endef

# The chaos suite (tests/chaos): every fault of DESIGN.md section 5
# injected again and again for CHAOS_SECONDS under traffic, then the
# checker. `make chaos` is the full matrix; `make test` runs chaos-short,
# the same scenarios for a short while with fewer jobs. CHAOS_REPORT=FILE
# collects "fault injections jobs recovery_ms after_heal_ms" lines;
# CHAOS_SEED replays.
CHAOS_SECONDS ?= 6
CHAOS_JOBS ?= 3000
chaos: all
	$(Q)CHAOS_SECONDS=$(CHAOS_SECONDS) CHAOS_JOBS=$(CHAOS_JOBS) $(MAKE) --no-print-directory chaos-run

chaos-short: all
	$(Q)CHAOS_SECONDS=2 CHAOS_JOBS=1000 $(MAKE) --no-print-directory chaos-run

chaos-run:
	$(call suite,chaos)

chaos-repeat: all
	$(Q)for i in $$(seq 1 $(N)); do \
		echo "== chaos-repeat: run $$i of $(N)"; \
		$(MAKE) --no-print-directory chaos || \
			{ echo "chaos-repeat: run $$i of $(N) failed"; exit 1; }; \
	done; echo "chaos-repeat: all $(N) runs passed"

# Benchmark programs tests/bench/*.c are built into $(BUILD)/bench/ first.
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))
$(OBJ)/tests/bench/%.o: DIR_CFLAGS = -Itests/bench -Iclient -Iproto -I$(BUILD)/include $(JANSSON_CFLAGS) $(HIREDIS_CFLAGS)
$(call obj,$(BENCH_SRCS)): | $(PUB_HEADER)
$(BENCH_BINS): $(BUILD)/bench/%: $(OBJ)/tests/bench/%.o $(LIB_A)
	$(call say,LINK,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(ALL_LDFLAGS) -o $@ $< $(LIB_A) $(JANSSON_LIBS) $(HIREDIS_LIBS) $(CLIENT_LIBS) -lm -lpthread

# `make bench`: every figure of DESIGN.md section 4 in one run (under 10
# minutes on 2 cores), a table with MET/MISSED and $(BUILD)/bench.json;
# tests/bench/run.sh drives tests/bench/bench.py. BENCH_ARGS=--quick for a
# short trial, BENCH_ARGS='--only refs,latency' for some parts.
bench:
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory $(PARALLEL) all $(BENCH_BINS)
	$(Q)PULSE_BUILD=$(ABS_BUILD) bash tests/bench/run.sh $(BENCH_ARGS)

# libFuzzer targets: tests/fuzz/fuzz_*.c, each defining LLVMFuzzerTestOneInput,
# linked with the codec and the daemon objects (all built again with clang
# and -fsanitize=fuzzer-no-link). Each runs FUZZ_SECONDS on a corpus under
# $(BUILD)/fuzz/corpus/<name>, seeded from tests/fuzz/corpus/<name> and
# tests/fuzz/regress/<name>, with tests/fuzz/<name>.dict when present.
# tests/fuzz/README.md describes the targets.
FUZZ := $(BUILD)/fuzz
FUZZ_SECONDS ?= 20
# Per-input limits: going over one is a finding (an input that makes the
# code allocate or take that much is a bug), reported like a crash.
FUZZ_RSS_MB ?= 2048
FUZZ_MALLOC_MB ?= 512
FUZZ_TIMEOUT ?= 10
FUZZ_ARGS ?=
FUZZ_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRCS))
FUZZ_BINS := $(addprefix $(FUZZ)/,$(FUZZ_NAMES))
FUZZ_LIBOBJS := $(patsubst %.c,$(FUZZ)/obj/%.o,$(PROTO_SRCS) $(filter-out daemon/main.c,$(DAEMON_SRCS))) \
	$(if $(DAEMON_SRCS),$(FUZZ)/obj/gen/scripts.o)
FUZZ_CFLAGS = -std=gnu11 -O1 -g -Wall -Wextra -D_GNU_SOURCE $(FUZZ_FLAGS) $(CFLAGS_EXTRA) \
	-Idaemon -Iproto -Iclient -Itests/fuzz $(MSGPACK_CFLAGS) $(HIREDIS_CFLAGS) $(EVENT_CFLAGS) $(JANSSON_CFLAGS)

$(FUZZ)/obj/gen/scripts.o: $(GEN)/scripts.c
	$(call say,FUZZCC,$<)
	$(Q)mkdir -p $(@D) && $(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
$(FUZZ)/obj/%.o: %.c
	$(call say,FUZZCC,$<)
	$(Q)mkdir -p $(@D) && $(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<
$(FUZZ)/libfuzzbase.a: $(FUZZ_LIBOBJS)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(FUZZ_BINS): $(FUZZ)/%: $(FUZZ)/obj/tests/fuzz/%.o $(FUZZ)/libfuzzbase.a
	$(call say,LINK,$@)
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(DAEMON_LIBS)

fuzz:
ifeq ($(FUZZ_SRCS),)
	@echo "make fuzz: not implemented yet (no tests/fuzz/fuzz_*.c)" >&2; exit 1
else
	$(Q)command -v $(FUZZ_CC) >/dev/null || bash mk/deps.sh clang
	$(Q)$(MAKE) --no-print-directory $(PARALLEL) $(FUZZ_BINS)
	$(Q)for f in $(FUZZ_BINS); do \
		n=$${f##*/}; c=$(FUZZ)/corpus/$$n; mkdir -p $$c; \
		for s in tests/fuzz/corpus/$$n tests/fuzz/regress/$$n; do \
			[ -d $$s ] && find $$s -maxdepth 1 -type f ! -name '.*' ! -name 'README*' \
				-exec cp -n {} $$c/ \; ; \
		done; \
		echo "== fuzz $$n for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-rss_limit_mb=$(FUZZ_RSS_MB) -malloc_limit_mb=$(FUZZ_MALLOC_MB) \
			-timeout=$(FUZZ_TIMEOUT) \
			$$( [ -f tests/fuzz/$$n.dict ] && echo -dict=tests/fuzz/$$n.dict ) \
			-artifact_prefix=$(FUZZ)/$$n- $(FUZZ_ARGS) $$c </dev/null || \
			{ echo "fuzz: $$n failed (input saved as $(FUZZ)/$$n-*)"; exit 1; }; \
	done; echo "fuzz: all targets ran $(FUZZ_SECONDS)s without a finding"
endif

# The same targets without clang: tests/fuzz/replay.c is their main(),
# built like the unit tests (gcc, -Werror; ASan with SANITIZE=1), and
# `make fuzz-replay` runs each over its seed corpus and regression inputs.
FUZZ_REPLAY_BINS := $(addprefix $(BUILD)/tests/fuzz/,$(FUZZ_NAMES))
FUZZ_REPLAY_LINK = $(OBJ)/tests/fuzz/replay.o $(LIBPULSED) $(PROTO_OBJS)
$(OBJ)/tests/fuzz/%.o: DIR_CFLAGS = -Itests/fuzz -Idaemon -Iproto \
	$(HIREDIS_CFLAGS) $(EVENT_CFLAGS) $(JANSSON_CFLAGS)
$(FUZZ_REPLAY_BINS): $(BUILD)/tests/fuzz/%: $(OBJ)/tests/fuzz/%.o $(FUZZ_REPLAY_LINK)
	$(call say,LINK,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(ALL_LDFLAGS) -o $@ $< $(FUZZ_REPLAY_LINK) $(DAEMON_LIBS)

fuzz-replay: $(FUZZ_REPLAY_BINS)
	$(Q)for n in $(FUZZ_NAMES); do \
		set -- ; \
		for s in tests/fuzz/corpus/$$n tests/fuzz/regress/$$n; do \
			if [ -d $$s ]; then set -- "$$@" $$s; fi; \
		done; \
		[ $$# -gt 0 ] || continue; \
		$(BUILD)/tests/fuzz/$$n "$$@" </dev/null || \
			{ echo "fuzz-replay: $$n failed"; exit 1; }; \
	done

# --- the demo --------------------------------------------------------------

run:
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory $(PARALLEL) all
	$(Q)PULSE_BUILD=$(ABS_BUILD) $(if $(filter 1,$(DEMO_ONLY)),PULSE_DEMO_EXIT=1) bash mk/run-demo.sh

verify-unit:
	$(Q)PULSE_BUILD=$(ABS_BUILD) bash mk/verify-unit.sh

# --- install ---------------------------------------------------------------

MAN_PAGES := $(wildcard daemon/pulsed.8 client/pulsectl/pulsectl.1 conf/pulsed.conf.5 client/libpulse-client.3)
CONF_DIR := $(SYSCONFDIR)/pulsed

$(BUILD)/pulsed.service: systemd/pulsed.service FORCE
	$(Q)mkdir -p $(@D) && sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's| /etc/pulsed/| $(CONF_DIR)/|g' $< > $@.tmp && \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

install: all $(BUILD)/pulsed.service
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(INCLUDEDIR)/pulsed $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	$(if $(PULSECTL),install -m 0755 $(PULSECTL) $(DESTDIR)$(BINDIR)/pulsectl)
	$(if $(PULSED),install -m 0755 $(PULSED) $(DESTDIR)$(SBINDIR)/pulsed)
ifneq ($(CLIENT_SRCS),)
	install -m 0755 $(LIB_SO_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sf libpulse-client.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libpulse-client.so.$(SOMAJOR)
	ln -sf libpulse-client.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libpulse-client.so
	install -m 0644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 0644 $(BUILD)/libpulse-client.pc $(DESTDIR)$(LIBDIR)/pkgconfig/libpulse-client.pc
endif
	install -m 0644 client/pulse.h $(DESTDIR)$(INCLUDEDIR)/pulsed/pulse.h
	@set -e; for m in $(MAN_PAGES); do \
		s=$${m##*.}; echo "install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/"; \
		install -d $(DESTDIR)$(MANDIR)/man$$s; install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; \
	done
	@set -e; if [ -f conf/pulsed.conf ]; then \
		install -d $(DESTDIR)$(CONF_DIR); \
		if [ -e $(DESTDIR)$(CONF_DIR)/pulsed.conf ]; then \
			echo "keeping the existing $(DESTDIR)$(CONF_DIR)/pulsed.conf"; \
		else echo "install -m 0644 conf/pulsed.conf $(DESTDIR)$(CONF_DIR)/pulsed.conf"; \
			install -m 0644 conf/pulsed.conf $(DESTDIR)$(CONF_DIR)/pulsed.conf; fi; \
	fi
	install -m 0644 $(BUILD)/pulsed.service $(DESTDIR)$(SYSTEMDUNITDIR)/pulsed.service
	install -m 0644 systemd/pulsed.sysusers $(DESTDIR)$(SYSUSERSDIR)/pulsed.conf
	@set -e; if [ -f client/pulsectl/completion.bash ]; then \
		echo "install -m 0644 client/pulsectl/completion.bash $(DESTDIR)$(BASHCOMPDIR)/pulsectl"; \
		install -d $(DESTDIR)$(BASHCOMPDIR); \
		install -m 0644 client/pulsectl/completion.bash $(DESTDIR)$(BASHCOMPDIR)/pulsectl; fi
	@set -e; if [ -f client/pulsectl/completion.zsh ]; then \
		echo "install -m 0644 client/pulsectl/completion.zsh $(DESTDIR)$(ZSHCOMPDIR)/_pulsectl"; \
		install -d $(DESTDIR)$(ZSHCOMPDIR); \
		install -m 0644 client/pulsectl/completion.zsh $(DESTDIR)$(ZSHCOMPDIR)/_pulsectl; fi
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pulsectl $(DESTDIR)$(SBINDIR)/pulsed \
		$(DESTDIR)$(LIBDIR)/libpulse-client.so.$(SOVERSION) \
		$(DESTDIR)$(LIBDIR)/libpulse-client.so.$(SOMAJOR) \
		$(DESTDIR)$(LIBDIR)/libpulse-client.so $(DESTDIR)$(LIBDIR)/libpulse-client.a \
		$(DESTDIR)$(LIBDIR)/pkgconfig/libpulse-client.pc \
		$(DESTDIR)$(INCLUDEDIR)/pulsed/pulse.h \
		$(DESTDIR)$(MANDIR)/man8/pulsed.8 $(DESTDIR)$(MANDIR)/man1/pulsectl.1 \
		$(DESTDIR)$(MANDIR)/man5/pulsed.conf.5 $(DESTDIR)$(MANDIR)/man3/libpulse-client.3 \
		$(DESTDIR)$(SYSTEMDUNITDIR)/pulsed.service $(DESTDIR)$(SYSUSERSDIR)/pulsed.conf \
		$(DESTDIR)$(BASHCOMPDIR)/pulsectl $(DESTDIR)$(ZSHCOMPDIR)/_pulsectl
	-rmdir $(DESTDIR)$(INCLUDEDIR)/pulsed 2>/dev/null
	@echo "uninstall: $(DESTDIR)$(CONF_DIR)/pulsed.conf is left in place"

include mk/soak.mk
include mk/model.mk

clean:
	rm -rf build build-asan $(filter-out build build-asan,$(BUILD))
