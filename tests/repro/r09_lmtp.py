"""Review item 9: LMTP per-recipient replies, no unexpected reply."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect
SCRIPT = "lmtp_per_recipient_replies.py"
ARGS = ["{out}/r.pcap"]
PCAP = "r.pcap"
OPTS = ["--ports", "24"]


def check(recs, run):
    errs = []
    for r in of(recs, "session") + of(recs, "transaction"):
        expect(errs, "smtp_unexpected_reply" not in r["anomalies"], "%s: %r" % (r["type"], r["anomalies"]))
    expect(errs, of(recs, "session"), "a session")
    return errs
