"""b05: a client segment inside DATA is missing; the only ACK covering it
rides on the server's "250 queued". That ACK is applied first (the hole
becomes a gap, the end of data queued behind it is delivered), then the
250: it answers the message (final_reply 250), and the 221 answers QUIT."""
import os
import sys
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect

SCRIPT = "more/b05_ack_after_payload_misorders_reply.py"


def check(recs, run):
    errs = []
    t = of(recs, "transaction")
    s = of(recs, "session")
    expect(errs, len(t) == 1, "one transaction, got %d" % len(t))
    if t:
        expect(errs, t[0].get("final_reply") == 250, "final_reply %r, want 250" % t[0].get("final_reply"))
        expect(errs, "tcp_gap" in (t[0].get("anomalies") or []), "the missing segment is a gap")
    if s:
        expect(errs, "smtp_unexpected_reply" not in (s[0].get("anomalies") or []),
               "smtp_unexpected_reply: %r" % s[0].get("anomalies"))
    answers = [(r.get("code"), r.get("answers")) for r in of(recs, "reply")]
    expect(errs, (250, "message") in answers and (221, "QUIT") in answers, "replies %r" % answers)
    return errs
