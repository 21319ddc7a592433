"""b01: a MAIL FROM domain that Unicode lowercasing lengthens (127 x U+0130)
must not overflow a buffer (the runner fails on any sanitizer report); the
transaction is still reported with its MAIL FROM."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect

SCRIPT = "more/b01_stack_overflow_unicode_lowercase_domain.py"


def check(recs, run):
    errs = []
    t = of(recs, "transaction")
    expect(errs, len(t) == 1, "one transaction, got %d" % len(t))
    if t:
        expect(errs, t[0]["mail_from"].startswith("x@\u0130"), "mail_from kept: %r" % t[0]["mail_from"][:20])
    return errs
