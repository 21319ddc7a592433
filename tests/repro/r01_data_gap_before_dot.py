"""Review item 1: the last body segment lost, then ".\r\n": the server's 250
answers the message, QUIT is a command."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect
SCRIPT = "data_gap_before_dot_misses_eod.py"
ARGS = ["{out}/r.pcap"]
PCAP = "r.pcap"


def check(recs, run):
    errs = []
    t = of(recs, "transaction")
    s = of(recs, "session")
    expect(errs, len(t) == 1 and t[0]["final_reply"] == 250, "final_reply 250: %r" % [x["final_reply"] for x in t])
    expect(errs, s and s[0]["quit"] is True, "quit")
    return errs
