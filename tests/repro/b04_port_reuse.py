"""b04: connection 1's FINs were not captured; 60 s later the client reuses
the tuple with new ISNs. The SYN-ACK answering the new SYN ends the first
flow ("flow_end":"reused", tshark's "TCP Port numbers reused") and the
second connection is a session of its own with its whole message."""
import os
import sys
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect

SCRIPT = "more/b04_port_reuse_open_flow_loses_session.py"


def check(recs, run):
    errs = []
    t = of(recs, "transaction")
    s = of(recs, "session")
    froms = [(x.get("mail_from"), x.get("final_reply"), x.get("message_complete")) for x in t]
    expect(errs, froms == [("s0@example.com", 250, True), ("s1@example.com", 250, True)],
           "transactions %r" % froms)
    expect(errs, len(s) == 2, "two sessions, got %d" % len(s))
    if len(s) == 2:
        expect(errs, s[0].get("flow_end") == "reused", "first flow_end %r" % s[0].get("flow_end"))
        expect(errs, s[1].get("flow_end") == "fin", "second flow_end %r" % s[1].get("flow_end"))
        expect(errs, len({x.get("session") for x in t}) == 2, "the two messages in two sessions")
        for x in s:
            for a in ("tcp_seq_jump", "tcp_gap", "smtp_content_gap"):
                expect(errs, a not in (x.get("anomalies") or []), "%s in session %s" % (a, x.get("session")))
    return errs
