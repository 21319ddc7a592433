# smtpscope — plain Makefile. Libraries through pkg-config.
# Every src/*.c except main.c goes into libsmtpscope.a; the binary and every
# unit test (tests/unit/test_*.c) link against it, so new modules need no edit here.

CC       ?= cc
PKG_CONFIG ?= pkg-config
PKGS     := libpcap ncursesw libpsl libcrypto
# CFLAGS (optimisation, sanitizers) may be given on the command line; the
# flags the code needs are in ALL_CFLAGS and always apply. Link-time
# optimisation inlines the small helpers other modules call per byte or per
# packet (about 10 % less CPU, docs/benchmarks.md).
CFLAGS   ?= -O2 -g -flto=auto
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

# Hardening, as Debian's dpkg-buildflags (hardening=+all) and OpenSSH's
# configure do it: stack protector, stack-clash probes, CET (x86), PIE,
# full RELRO with immediate binding, and _FORTIFY_SOURCE=3 (2 where the
# compiler or libc has no level 3). Each compiler flag is used only if $(CC)
# accepts it. FORTIFY needs optimisation and is left out of the sanitizer
# builds (asan, tsan, fuzz: any -fsanitize in CFLAGS), whose interceptors it
# would bypass. They come before CFLAGS so that CFLAGS can still override
# them (e.g. -fno-stack-protector). HARDEN=0 builds without any of it (for
# comparisons: docs/benchmarks.md, "Hardening").
HARDEN   ?= 1
cc_accepts = $(shell $(CC) -Werror $(1) -x c -c /dev/null -o /dev/null >/dev/null 2>&1 && echo $(1))
ifeq ($(HARDEN),1)
HARDEN_CFLAGS := -Wformat -Wformat-security \
                 $(call cc_accepts,-fstack-protector-strong) \
                 $(call cc_accepts,-fstack-clash-protection) \
                 $(call cc_accepts,-fcf-protection) \
                 -fPIE
HARDEN_LDFLAGS := -pie -Wl,-z,relro -Wl,-z,now
ifneq ($(filter -O -O1 -O2 -O3 -Os -Og -Oz -Ofast,$(CFLAGS)),)
ifeq ($(findstring -fsanitize,$(CFLAGS)),)
# level 3 needs gcc >= 12 or clang >= 9 and glibc >= 2.34; glibc says which
# level it took in __USE_FORTIFY_LEVEL (its own warning sits in a system header)
FORTIFY_LEVEL := $(shell printf '\043include <string.h>\n\043if __USE_FORTIFY_LEVEL < 3\n\043error\n\043endif\n' | \
                   $(CC) -O2 -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3 -x c -c - -o /dev/null >/dev/null 2>&1 \
                   && echo 3 || echo 2)
HARDEN_CFLAGS += -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=$(FORTIFY_LEVEL)
endif
endif
endif

ALL_CFLAGS := -std=c11 -pthread -Wall -Wextra -D_DEFAULT_SOURCE -D_GNU_SOURCE -Iinclude \
              $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null) \
              -DSMTPSCOPE_VERSION=\"$(VERSION)\" $(HARDEN_CFLAGS) $(CFLAGS)
ALL_LDFLAGS := $(HARDEN_LDFLAGS) $(LDFLAGS)
LDLIBS   += $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -pthread
PREFIX   ?= /usr/local

BUILD    ?= build
SRCS     := $(filter-out src/main.c,$(wildcard src/*.c))
OBJS     := $(SRCS:src/%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libsmtpscope.a
TESTS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

.PHONY: all deps run test unit check clean install asan tsan bench fuzz

all: smtpscope

deps:
	@sh scripts/deps.sh

smtpscope: $(BUILD)/main.o $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) $(LDLIBS)

$(LIB): $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: src/%.c $(wildcard include/*.h) $(wildcard src/*.h) $(wildcard src/*.def)
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(LIB)
	@mkdir -p $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(LIB) $(ALL_LDFLAGS) $(LDLIBS)

unit: $(TESTS)

# make run: install what is missing, build, analyse the bundled demo capture.
run: deps
	@$(MAKE) --no-print-directory all
	./smtpscope -r captures/demo.pcap

# make test: the same set-up, then the whole suite (one closing "N passed, N failed").
test: deps
	@$(MAKE) --no-print-directory all unit
	@sh tests/run.sh

check: all unit
	@sh tests/run.sh

install: smtpscope
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 smtpscope $(DESTDIR)$(PREFIX)/bin/smtpscope
	install -m 644 docs/smtpscope.1 $(DESTDIR)$(PREFIX)/share/man/man1/smtpscope.1

# Sanitizer build in its own directory (used by the test suite).
asan:
	@$(MAKE) --no-print-directory BUILD=build-asan CC=clang \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  build-asan/smtpscope-bin

build-asan/smtpscope-bin: $(BUILD)/main.o $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) $(LDLIBS)

# ThreadSanitizer build (the capture thread and the worker; tests/t_threads.sh).
tsan:
	@$(MAKE) --no-print-directory BUILD=build-tsan CC=clang \
	  CFLAGS="-O1 -g -fsanitize=thread -fno-omit-frame-pointer" \
	  build-tsan/smtpscope-bin

build-tsan/smtpscope-bin: $(BUILD)/main.o $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(ALL_LDFLAGS) $(LDLIBS)

clean:
	rm -rf build build-asan build-tsan smtpscope

# ---- make bench (bench/, docs/benchmarks.md) --------------------------------
# The capture generator, the bare libpcap loop and the RSS/timing wrapper are
# built into $(BUILD)/bench/; bench/bench.py generates 64 MiB, 256 MiB and
# 1 GiB captures in a temporary directory, times smtpscope against the loop,
# checks its JSON against the ground truth and rewrites docs/benchmarks.md.
# Options through BENCH_ARGS, e.g. make bench BENCH_ARGS="--sizes 64M --reps 3".
BENCH_DIR    := $(BUILD)/bench
BENCH_CFLAGS := -std=c11 -O2 -g -Wall -Wextra
BENCH_ARGS   ?=

$(BENCH_DIR)/gen: bench/gen.c
	@mkdir -p $(BENCH_DIR)
	$(CC) $(BENCH_CFLAGS) -o $@ bench/gen.c

$(BENCH_DIR)/floor: bench/floor.c
	@mkdir -p $(BENCH_DIR)
	$(CC) $(BENCH_CFLAGS) $(shell $(PKG_CONFIG) --cflags libpcap 2>/dev/null) -o $@ bench/floor.c \
	  $(shell $(PKG_CONFIG) --libs libpcap 2>/dev/null || echo -lpcap)

$(BENCH_DIR)/rss: bench/rss.c
	@mkdir -p $(BENCH_DIR)
	$(CC) $(BENCH_CFLAGS) -o $@ bench/rss.c

.PHONY: bench-tools
bench-tools: $(BENCH_DIR)/gen $(BENCH_DIR)/floor $(BENCH_DIR)/rss

bench: deps
	@$(MAKE) --no-print-directory all bench-tools
	python3 bench/bench.py --bin $(BENCH_DIR) $(BENCH_ARGS)

# Live capture at speed: replay over a veth pair (root, tcpreplay), from top
# speed down until nothing is dropped (docs/benchmarks.md, "Live capture").
.PHONY: bench-live
bench-live: deps
	@$(MAKE) --no-print-directory all bench-tools
	python3 bench/live.py --ladder --bin $(BENCH_DIR) --size 64M

# ---- make fuzz (fuzz/, docs/security.md) -------------------------------------
# libFuzzer targets (fuzz/fuzz_*.c) linked against a clang ASan+UBSan build of
# the library in build-fuzz/. `make fuzz` builds them, builds the seed corpora
# (fuzz/seeds.py, from captures/demo.pcap and the public corpus) and runs each
# target for FUZZ_SECONDS (default 600) seconds, FUZZ_JOBS targets at a time
# (default: the number of CPUs). Crashes land in build-fuzz/crashes/<target>/;
# once fixed, keep them in tests/regress/<target>/ (tests/t_fuzz_short.sh
# replays that directory in `make test`).
FUZZ_BUILD   := build-fuzz
FUZZ_TARGETS := decode reasm smtp imf codec verdict tlsdec tls
FUZZ_SECONDS ?= 600
FUZZ_JOBS    ?= $(shell nproc 2>/dev/null || echo 1)
FUZZ_CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fsanitize=fuzzer-no-link -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION

.PHONY: fuzz-build fuzz-bins
fuzz-build:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang CFLAGS="$(FUZZ_CFLAGS)" fuzz-bins

fuzz-bins: $(FUZZ_TARGETS:%=$(BUILD)/fuzz_%)

$(BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h $(LIB)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB) $(ALL_LDFLAGS) $(LDLIBS)

fuzz: fuzz-build
	sh fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_TARGETS)
