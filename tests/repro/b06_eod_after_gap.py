"""b06: after a gap inside DATA, a "." line that starts the first segment
after the gap still ends the message; QUIT is a command again."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect

SCRIPT = "more/b06_eod_missed_after_gap_at_line_start.py"


def check(recs, run):
    errs = []
    t = of(recs, "transaction")
    s = of(recs, "session")
    expect(errs, len(t) == 1, "one transaction, got %d" % len(t))
    if t:
        expect(errs, t[0]["final_reply"] == 250, "final_reply 250, got %r" % t[0]["final_reply"])
        expect(errs, t[0]["size"] < 109, "the '.' and QUIT are not message bytes (size %d)" % t[0]["size"])
        expect(errs, t[0]["gap_bytes"] == 100, "gap_bytes 100, got %r" % t[0]["gap_bytes"])
        expect(errs, "smtp_bare_lf_in_data" not in t[0]["anomalies"], "no bare LF")
    if s:
        expect(errs, s[0]["quit"] is True, "QUIT seen as a command")
        expect(errs, "smtp_unexpected_reply" not in s[0]["anomalies"], "no unexpected reply: %r" % s[0]["anomalies"])
    return errs
