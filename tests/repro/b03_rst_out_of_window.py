"""b03: an RST 1,000,000 bytes outside the client's window, injected after
EHLO, is ignored (RFC 5961 §3.2, RFC 9293 §3.10.7.4) and counted
(tcp_rst_out_of_window); the mail that follows is reported whole and the
flow ends with its FINs."""
import os
import sys
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect

SCRIPT = "more/b03_rst_out_of_window_ends_session.py"


def check(recs, run):
    errs = []
    t = of(recs, "transaction")
    s = of(recs, "session")
    expect(errs, len(t) == 1, "one transaction, got %d" % len(t))
    if t:
        expect(errs, t[0].get("mail_from") == "ceo@example.com", "mail_from %r" % t[0].get("mail_from"))
        expect(errs, t[0].get("final_reply") == 250 and t[0].get("message_complete") is True,
               "message accepted and complete: final_reply %r" % t[0].get("final_reply"))
    expect(errs, len(s) == 1, "one session, got %d" % len(s))
    if s:
        expect(errs, s[0].get("flow_end") == "fin", "flow_end %r (the RST must not end it)" % s[0].get("flow_end"))
        expect(errs, "tcp_rst_out_of_window" in (s[0].get("anomalies") or []),
               "tcp_rst_out_of_window not in the session's anomalies: %r" % s[0].get("anomalies"))
        expect(errs, "tcp_data_after_rst" not in (s[0].get("anomalies") or []), "tcp_data_after_rst raised")
    return errs
