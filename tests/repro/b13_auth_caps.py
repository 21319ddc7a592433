"""b13: "AUTH PLAIN LOGIN" and "AUTH=PLAIN LOGIN" give "PLAIN LOGIN"."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect

SCRIPT = "more/b13_ehlo_auth_lines_concatenated.py"


def check(recs, run):
    s = of(recs, "session")
    errs = []
    expect(errs, s and s[0].get("auth_mechanisms") == "PLAIN LOGIN", "got %r" % (s and s[0].get("auth_mechanisms")))
    return errs
