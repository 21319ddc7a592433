"""b11: LMTP answers the end of data once per accepted recipient
(RFC 2033 §4.2); carol's 452 is kept on her recipient."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect

SCRIPT = "more/b11_lmtp_per_recipient_replies.py"
OPTS = ["--ports", "24"]


def check(recs, run):
    errs = []
    s = of(recs, "session")
    expect(errs, s and "smtp_unexpected_reply" not in s[0]["anomalies"], "no unexpected reply: %r" % (s and s[0]["anomalies"]))
    t = of(recs, "transaction")
    if t:
        d = {r["addr"]: r.get("delivery") for r in t[0].get("rcpt_replies", [])}
        expect(errs, d == {"bob@example.net": 250, "carol@example.net": 452}, "deliveries: %r" % d)
    reps = [(r.get("code"), r.get("answers")) for r in of(recs, "reply")]
    expect(errs, (221, "QUIT") in reps, "221 answers QUIT: %r" % reps)
    return errs
