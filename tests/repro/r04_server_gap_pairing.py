"""Review item 4: the reply to MAIL lost: the 550 5.1.1 answers RCPT."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect
SCRIPT = "server_gap_shifts_reply_pairing.py"
ARGS = ["{out}/r.pcap"]
PCAP = "r.pcap"


def check(recs, run):
    errs = []
    t = of(recs, "transaction")
    expect(errs, t and t[0]["mail_reply"] is None, "mail_reply null: %r" % (t and t[0]["mail_reply"]))
    expect(errs, t and t[0]["rcpt_rejected"] == ["nobody@example.net"], "rcpt_rejected: %r" % (t and t[0]["rcpt_rejected"]))
    reps = [(r.get("code"), r.get("answers")) for r in of(recs, "reply")]
    expect(errs, (221, "QUIT") in reps, "221 answers QUIT: %r" % reps)
    return errs
