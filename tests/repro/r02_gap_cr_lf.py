"""Review item 2: an LF right after a gap is not a bare LF: no smtp_smuggling."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import expect, findings
SCRIPT = "data_gap_between_cr_lf_smuggling_fp.py"
ARGS = ["{out}/r.pcap"]
PCAP = "r.pcap"


def check(recs, run):
    errs = []
    expect(errs, not any(i == "smtp_smuggling" for i, _ in findings(recs)), "no smuggling: %r" % findings(recs))
    return errs
