#!/bin/sh
# Short fuzzing pass (part of `make test`): builds the libFuzzer targets
# (make fuzz-build: clang, -fsanitize=fuzzer,address,undefined into
# build-fuzz/), replays every kept crash input under tests/regress/<target>/
# through its target, then fuzzes each target for FUZZ_SHORT_SECONDS (default
# 20) from the seed corpora (fuzz/seeds.py). Fails on any crash, leak, hang or
# sanitizer report, and when clang or libFuzzer is missing.
. tests/lib.sh
SECS=${FUZZ_SHORT_SECONDS:-20}
JOBS=${FUZZ_SHORT_JOBS:-$(nproc 2>/dev/null || echo 1)}
TARGETS="decode reasm smtp imf codec verdict tlsdec tls"

if ! command -v clang >/dev/null 2>&1; then
	fail "clang missing (make deps installs clang; -fsanitize=fuzzer needs libclang-rt-14-dev)"
	finish; exit 1
fi
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$TMP/probe.c"
if clang -fsanitize=fuzzer,address -o "$TMP/probe" "$TMP/probe.c" >"$TMP/probe.log" 2>&1; then
	ok "clang -fsanitize=fuzzer links"
else
	fail "clang -fsanitize=fuzzer does not link (install libclang-rt-14-dev): $(head -n 1 "$TMP/probe.log")"
	finish; exit 1
fi
if make --no-print-directory fuzz-build >"$TMP/build.log" 2>&1; then
	ok "fuzz targets build"
else
	fail "fuzz targets build (see below)"; tail -n 20 "$TMP/build.log"
	finish; exit 1
fi
check "fuzz targets build without warnings" sh -c "! grep -q 'warning:' '$TMP/build.log'"

# Replay the regression inputs: each file once through its target.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in $TARGETS; do
	d=tests/regress/$t
	n=$(ls "$d" 2>/dev/null | wc -l)
	[ "$n" -gt 0 ] || continue
	if build-fuzz/fuzz_$t -timeout=25 -rss_limit_mb=2048 "$d"/* >"$TMP/replay-$t.log" 2>&1; then
		ok "regress $t: $n inputs replay clean"
	else
		fail "regress $t: a kept input fails again"; grep -E 'ERROR|SUMMARY|runtime error|Running: ' "$TMP/replay-$t.log" | tail -n 5
	fi
done

# Fuzz each target briefly (FUZZ_SHORT_JOBS at a time, default one per CPU), fresh corpus.
FUZZ_CORPUS="$TMP/corpus" FUZZ_LOGS="$TMP/logs" sh fuzz/run.sh "$SECS" "$JOBS" $TARGETS >"$TMP/run.log" 2>&1
cat "$TMP/run.log"
for t in $TARGETS; do
	if grep -q "^fuzz: $t ok" "$TMP/run.log"; then ok "fuzz $t ${SECS}s"; else fail "fuzz $t ${SECS}s"; fi
done
finish
