#!/bin/sh
# The built binary carries the hardening the Makefile asks for (checksec's
# checks, done with readelf/objdump): PIE, full RELRO (BIND_NOW), a
# non-executable stack, the stack protector, _FORTIFY_SOURCE's checked calls,
# CET landing pads on x86-64; and the Makefile picks its flags as documented
# (FORTIFY only with optimisation and never with sanitizers, HARDEN=0 turns it
# all off, user CFLAGS/LDFLAGS still reach the command lines).
. "$(dirname "$0")/lib.sh"
BIN=$SMTPSCOPE
if ! command -v readelf >/dev/null 2>&1; then
	fail "readelf (binutils) is needed"
	finish
	exit 1
fi
readelf -hW "$BIN" >"$TMP/h" 2>&1
readelf -dW "$BIN" >"$TMP/d" 2>&1
readelf -lW "$BIN" >"$TMP/l" 2>&1
readelf --dyn-syms -W "$BIN" >"$TMP/s" 2>&1

check "PIE: ELF type DYN" grep -q 'Type: *DYN' "$TMP/h"
check "PIE: FLAGS_1 has PIE" grep -Eq 'FLAGS_1.*PIE' "$TMP/d"
check "full RELRO: GNU_RELRO segment" grep -q 'GNU_RELRO' "$TMP/l"
check "full RELRO: BIND_NOW" grep -Eq '\(FLAGS\).*BIND_NOW|FLAGS_1.*NOW' "$TMP/d"
check "stack not executable (GNU_STACK RW)" grep -Eq 'GNU_STACK .* RW ' "$TMP/l"
check "no text relocations" sh -c "! grep -q TEXTREL '$TMP/d'"
check "stack protector: __stack_chk_fail imported" grep -q '__stack_chk_fail' "$TMP/s"
check "FORTIFY: checked calls imported (*_chk)" grep -Eq '__(memcpy|memmove|snprintf|fprintf|printf|vsnprintf|read)_chk' "$TMP/s"

# The flags recorded by the compiler (DW_AT_producer; -g is in the default CFLAGS).
if readelf --debug-dump=info "$BIN" 2>/dev/null | grep -m1 'DW_AT_producer' >"$TMP/p" && [ -s "$TMP/p" ]; then
	check "compiled with -fstack-protector-strong" grep -q -- '-fstack-protector-strong' "$TMP/p"
	check "compiled with -fstack-clash-protection" grep -q -- '-fstack-clash-protection' "$TMP/p"
	check "compiled with -fPIE" grep -q -- '-fPIE' "$TMP/p"
	if [ "$(uname -m)" = x86_64 ]; then
		check "compiled with -fcf-protection" grep -q -- '-fcf-protection' "$TMP/p"
	fi
fi
if [ "$(uname -m)" = x86_64 ] && command -v objdump >/dev/null 2>&1; then
	n=$(objdump -d --no-show-raw-insn "$BIN" | grep -c 'endbr64')
	check "CET: endbr64 landing pads in the code ($n)" [ "$n" -gt 50 ]
fi

# The Makefile's choices, from dry runs (nothing is built).
mk() { make -s -n -B "$@" 2>/dev/null; }
mk build/main.o >"$TMP/m"
lvl=$(printf '#include <string.h>\n#if __USE_FORTIFY_LEVEL < 3\n#error\n#endif\n' |
	${CC:-cc} -O2 -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3 -x c -c - -o /dev/null 2>/dev/null && echo 3 || echo 2)
check "default build: -D_FORTIFY_SOURCE=$lvl (what the compiler supports)" grep -q -- "-D_FORTIFY_SOURCE=$lvl" "$TMP/m"
check "default build: -fstack-protector-strong -fPIE" sh -c "grep -q -- -fstack-protector-strong '$TMP/m' && grep -q -- -fPIE '$TMP/m'"
mk smtpscope >"$TMP/m"
check "link: -pie -z relro -z now" sh -c "grep -q -- '-pie' '$TMP/m' && grep -q -- '-z,relro' '$TMP/m' && grep -q -- '-z,now' '$TMP/m'"
mk CFLAGS="-O0 -g" build/main.o >"$TMP/m"
check "CFLAGS=-O0: no FORTIFY (it needs optimisation), the rest stays" sh -c "! grep -q -- -D_FORTIFY_SOURCE '$TMP/m' && grep -q -- -fstack-protector-strong '$TMP/m' && grep -q -- '-O0 -g' '$TMP/m'"
mk CFLAGS="-O1 -g -fsanitize=address" build/main.o >"$TMP/m"
check "sanitizer CFLAGS: no FORTIFY" sh -c "! grep -q -- -D_FORTIFY_SOURCE '$TMP/m'"
mk asan >"$TMP/m"
check "make asan: no FORTIFY" sh -c "grep -q -- -fsanitize=address '$TMP/m' && ! grep -q -- -D_FORTIFY_SOURCE '$TMP/m'"
mk tsan >"$TMP/m"
check "make tsan: no FORTIFY" sh -c "grep -q -- -fsanitize=thread '$TMP/m' && ! grep -q -- -D_FORTIFY_SOURCE '$TMP/m'"
mk HARDEN=0 smtpscope build/main.o >"$TMP/m"
check "HARDEN=0: none of it" sh -c "! grep -Eq -- '-D_FORTIFY_SOURCE|-fstack-protector|-pie|-z,now' '$TMP/m'"
mk LDFLAGS="-Wl,--as-needed" CFLAGS="-O2 -DUSER_FLAG" smtpscope build/main.o >"$TMP/m"
check "user CFLAGS and LDFLAGS still applied" sh -c "grep -q -- -DUSER_FLAG '$TMP/m' && grep -q -- '-Wl,--as-needed' '$TMP/m' && grep -q -- '-z,now' '$TMP/m'"
finish
