# Helpers for the shell tests: ok/fail counters and the closing line.
# Usage: . tests/lib.sh; check "name" command...; finish
cd "$(dirname "$0")/.." || exit 1
SMTPSCOPE=${SMTPSCOPE:-./smtpscope}
PUBLIC=${PUBLIC:-../shared/captures/public}
[ -d "$PUBLIC" ] || PUBLIC=/work/shared/captures/public
T_PASS=0
T_FAIL=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ok() { T_PASS=$((T_PASS + 1)); echo "ok   $*"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "FAIL $*"; }
# check NAME CMD...: passes when CMD exits 0
check() { name=$1; shift; if "$@"; then ok "$name"; else fail "$name"; fi; }
finish() { echo "$T_PASS passed, $T_FAIL failed"; [ "$T_FAIL" -eq 0 ]; }
