"""Review item 10: a display name with the same address in U-label form is
the same address: no display_name_spoof."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import expect, findings
SCRIPT = "display_name_idn_same_address_fp.py"
ARGS = ["{out}/r.pcap"]
PCAP = "r.pcap"


def check(recs, run):
    errs = []
    expect(errs, not any(i == "display_name_spoof" for i, _ in findings(recs)), "no display_name_spoof: %r" % findings(recs))
    return errs
