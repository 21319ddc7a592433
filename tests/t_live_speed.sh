#!/bin/sh
# A generated capture replayed over a veth pair in a network namespace of our
# own (tcpreplay) into smtpscope -i: packets received, drops, and the sessions
# recovered against the generator's ground truth (bench/live.py).
. "$(dirname "$0")/lib.sh"
make -s build/bench/gen >/dev/null 2>&1 || { fail "build bench/gen"; finish; exit 1; }
exec python3 bench/live.py --check --smtpscope "$SMTPSCOPE"
