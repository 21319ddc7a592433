"""Issue 12, item 11: junk segments (SYN+FIN, no flags, RST with data,
FIN+PSH without ACK) carrying MAIL FROM from clients that send nothing else
open no transaction and raise tcp_bad_flags; a no-ACK segment injected at
the next sequence number of a real session is dropped, the real MAIL FROM
wins; overlaps follow first data wins in six orders of arrival, each
raising tcp_overlap_conflict (generator: tests/repro/_gen_i11_junk.py)."""
import os
import sys
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_gen_i11_junk.py")
PCAP = "i11_junk_segments.pcap"


def check(recs, run):
    errs = []
    t = of(recs, "transaction")
    froms = sorted(x.get("mail_from") or "" for x in t)
    want = sorted(["good-%d@example.org" % k for k in range(6)] + ["real@example.org"])
    expect(errs, froms == want, "transactions' MAIL FROM %r, want %r" % (froms, want))
    for x in t:
        expect(errs, x.get("final_reply") == 250, "final_reply %r for %s" % (x.get("final_reply"), x.get("mail_from")))
    for s in of(recs, "session"):
        a = s.get("anomalies") or []
        if "tcp_bad_flags" not in a:
            expect(errs, "tcp_overlap_conflict" in a, "session %s without tcp_overlap_conflict: %r" % (s.get("session"), a))
    r, rc, err = run(PCAP, "--summary")
    sm = of(r, "summary")
    an = sm[0].get("anomalies", {}) if sm else {}
    expect(errs, an.get("tcp_bad_flags", 0) >= 5, "tcp_bad_flags counted %r times, want >= 5" % an.get("tcp_bad_flags"))
    return errs
