"""b09: STARTTLS refused with EHLO and MAIL pipelined: each reply answers
its own command, once."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect

SCRIPT = "more/b09_reply_reentrancy_starttls_refused_pipelined.py"


def check(recs, run):
    errs = []
    reps = [(r.get("code"), r.get("answers")) for r in of(recs, "reply")]
    expect(errs, reps.count((454, "STARTTLS")) == 1 and sum(1 for c, _ in reps if c == 454) == 1,
           "454 once, to STARTTLS: %r" % reps)
    expect(errs, (250, "EHLO") in reps[2:] and (250, "MAIL") in reps, "EHLO and MAIL answered: %r" % reps)
    s = of(recs, "session")
    if s:
        for a in ("smtp_reply_unterminated", "smtp_unexpected_reply"):
            expect(errs, a not in s[0]["anomalies"], "no %s" % a)
    t = of(recs, "transaction")
    expect(errs, t and t[0]["mail_reply"] == 250, "mail_reply 250")
    return errs
