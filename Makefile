# smtpscope — plain Makefile. Libraries through pkg-config.
# Every src/*.c except main.c goes into libsmtpscope.a; the binary and every
# unit test (tests/unit/test_*.c) link against it, so new modules need no edit here.

CC       ?= cc
PKG_CONFIG ?= pkg-config
PKGS     := libpcap ncursesw libpsl
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -Wall -Wextra -D_DEFAULT_SOURCE -D_GNU_SOURCE -Iinclude
CFLAGS   += $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CFLAGS   += -DSMTPSCOPE_VERSION=\"$(VERSION)\"
PREFIX   ?= /usr/local

BUILD    ?= build
SRCS     := $(filter-out src/main.c,$(wildcard src/*.c))
OBJS     := $(SRCS:src/%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libsmtpscope.a
TESTS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

.PHONY: all deps run test unit check clean install asan bench fuzz

all: smtpscope

deps:
	@sh scripts/deps.sh

smtpscope: $(BUILD)/main.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(LIB): $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: src/%.c $(wildcard include/*.h) $(wildcard src/*.h) $(wildcard src/*.def)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c tests/unit/harness.h $(LIB)
	@mkdir -p $(BUILD)/tests
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

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
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

clean:
	rm -rf build build-asan smtpscope
