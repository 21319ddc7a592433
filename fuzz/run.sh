#!/bin/sh
# Run libFuzzer targets: fuzz/run.sh SECONDS JOBS TARGET...
# Each target build-fuzz/fuzz_TARGET runs for SECONDS (-max_total_time) on its
# corpus FUZZ_CORPUS/TARGET (default build-fuzz/corpus, kept between runs),
# seeded from build-fuzz/seeds/TARGET (built by fuzz/seeds.py when missing)
# and tests/regress/TARGET, with the libFuzzer dictionary fuzz/TARGET.dict
# when there is one (written by fuzz/case_expanding.py). JOBS targets run at
# a time. Crash, leak and timeout inputs go to build-fuzz/crashes/TARGET/,
# logs to build-fuzz/logs/. Exit status 1 if any target found something.
cd "$(dirname "$0")/.." || exit 1
secs=${1:-600}; jobs=${2:-1}; shift 2 || exit 1
B=build-fuzz
CORPUS=${FUZZ_CORPUS:-$B/corpus}
for t in "$@"; do
	[ -d "$B/seeds/$t" ] || { python3 fuzz/seeds.py --out "$B/seeds" >/dev/null || exit 1; break; }
done
LOGS=${FUZZ_LOGS:-$B/logs}
mkdir -p "$LOGS"
run_one() {
	t=$1
	mkdir -p "$CORPUS/$t" "$B/crashes/$t" "$B/seeds/$t"
	set -- "$CORPUS/$t" "$B/seeds/$t"
	[ -d "tests/regress/$t" ] && set -- "$@" "tests/regress/$t"
	[ -f "fuzz/$t.dict" ] && set -- -dict="fuzz/$t.dict" "$@"
	"$B/fuzz_$t" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$B/crashes/$t/" "$@" >"$LOGS/$t.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOGS/$t.log")
	if [ "$rc" -eq 0 ]; then
		echo "fuzz: $t ok (${execs:-?} runs in ${secs}s)"
	else
		echo "fuzz: $t FOUND A PROBLEM (exit $rc), see $LOGS/$t.log and $B/crashes/$t/"
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$LOGS/$t.log" | head -5 | sed 's/^/    /'
	fi
	return "$rc"
}
status=0
pids=""
for t in "$@"; do
	run_one "$t" &
	pids="$pids $!"
	set -- $pids
	if [ "$#" -ge "$jobs" ]; then
		wait "$1" || status=1
		shift
		pids="$*"
	fi
done
for p in $pids; do wait "$p" || status=1; done
exit "$status"
