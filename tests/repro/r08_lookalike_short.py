"""Review item 8: bt.com vs bp.com is no look-alike (short registrable labels)."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import expect, findings
SCRIPT = "lookalike_short_names_counted_with_tld.py"
ARGS = ["{out}/r.pcap"]
PCAP = "r.pcap"


def check(recs, run):
    errs = []
    expect(errs, not any(i == "lookalike_domain" for i, _ in findings(recs)), "no lookalike: %r" % findings(recs))
    return errs
