"""b08: display_name_spoof looks at every address in the display name, in
either order."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import expect, findings

SCRIPT = "more/b08_display_name_second_address_ignored.py"


def check(recs, run):
    errs = []
    expect(errs, ("display_name_spoof", "high") in findings(recs), "fires: %r" % findings(recs))
    c, _, _ = run("b08_control_order_swapped.pcap")
    expect(errs, ("display_name_spoof", "high") in findings(c), "control fires: %r" % findings(c))
    return errs
