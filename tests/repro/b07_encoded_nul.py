"""b07: a NUL decoded from RFC 2047 (=00) or RFC 2231 (%00) becomes U+FFFD,
never cuts the value; display_name_spoof still fires; imf_nul_byte raised."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect, findings

SCRIPT = "more/b07_encoded_nul_truncates_names.py"


def check(recs, run):
    errs = []
    t = of(recs, "transaction")
    expect(errs, len(t) == 1, "one transaction")
    if not t:
        return errs
    h = t[0]["headers"]
    expect(errs, ("display_name_spoof", "high") in findings(recs), "display_name_spoof/high: %r" % findings(recs))
    expect(errs, "\ufffd" in (h["subject"] or "") and "suspended" in h["subject"], "subject kept whole: %r" % h["subject"])
    names = [a["name"] for a in h["attachments"]]
    expect(errs, any(n and n.endswith(".exe") and "\ufffd" in n for n in names), "attachment name whole: %r" % names)
    expect(errs, "imf_nul_byte" in t[0]["anomalies"], "imf_nul_byte: %r" % t[0]["anomalies"])
    for r in recs:  # no raw NUL anywhere in the output
        expect(errs, "\x00" not in str(r), "a NUL reached the output")
    c, rc, _ = run("b07_control_without_nul.pcap", *[])
    expect(errs, ("display_name_spoof", "high") in findings(c), "control fires too")
    return errs
