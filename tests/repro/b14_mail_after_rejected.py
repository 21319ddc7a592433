"""b14: a MAIL after a rejected MAIL is no smtp_nested_mail_transaction."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect

SCRIPT = "more/b14_nested_mail_after_rejected_mail.py"


def check(recs, run):
    errs = []
    for r in of(recs, "transaction") + of(recs, "session"):
        expect(errs, "smtp_nested_mail_transaction" not in r["anomalies"], "%s: %r" % (r["type"], r["anomalies"]))
    t = of(recs, "transaction")
    expect(errs, [x["mail_reply"] for x in t] == [550, 250], "two transactions 550, 250: %r" % [x["mail_reply"] for x in t])
    return errs
