"""Review item 6: picked up at STARTTLS, the 220 answers it (no greeting), the
TLS that follows is counted as TLS."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect
SCRIPT = "midstream_starttls_220_taken_as_greeting.py"
ARGS = ["{out}/r.pcap"]
PCAP = "r.pcap"


def check(recs, run):
    errs = []
    s = of(recs, "session")
    if s:
        expect(errs, s[0]["greeting"] is None, "no greeting: %r" % s[0]["greeting"])
        expect(errs, "smtp_invalid_reply" not in s[0]["anomalies"], "no invalid reply")
        expect(errs, s[0]["tls"] and s[0]["tls_bytes"][0] > 0 and s[0]["tls_bytes"][1] > 0, "tls bytes both ways: %r" % s[0]["tls_bytes"])
    else:
        errs.append("no session")
    return errs
