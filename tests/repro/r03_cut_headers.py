"""Review item 3: a header block cut by the end of the flow is truncated: no
missing_from."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect, findings
SCRIPT = "missing_from_on_cut_headers.py"
ARGS = ["{out}/r.pcap"]
PCAP = "r.pcap"


def check(recs, run):
    errs = []
    expect(errs, not any(i == "missing_from" for i, _ in findings(recs)), "no missing_from: %r" % findings(recs))
    t = of(recs, "transaction")
    expect(errs, t and t[0]["headers"] and t[0]["headers"]["truncated"] is True, "headers truncated")
    return errs
