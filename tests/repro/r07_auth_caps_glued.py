"""Review item 7: AUTH PLAIN LOGIN + AUTH=PLAIN LOGIN give PLAIN LOGIN."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect
SCRIPT = "ehlo_auth_and_auth_equals_glued.py"
ARGS = ["{out}/r.pcap"]
PCAP = "r.pcap"


def check(recs, run):
    errs = []
    s = of(recs, "session")
    expect(errs, s and s[0].get("auth_mechanisms") == "PLAIN LOGIN", "got %r" % (s and s[0].get("auth_mechanisms")))
    return errs
