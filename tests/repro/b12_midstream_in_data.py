"""b12: a capture that starts inside a message body: the body lines are not
commands, the "." ends that message, and every later reply answers its own
command."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect

SCRIPT = "more/b12_midstream_in_data_misaligns_replies.py"


def check(recs, run):
    errs = []
    t = of(recs, "transaction")
    expect(errs, len(t) == 1, "one transaction")
    if t:
        expect(errs, t[0]["mail_reply"] == 250, "mail_reply 250: %r" % t[0]["mail_reply"])
        expect(errs, t[0]["rcpt_accepted"] == 1, "RCPT answered")
        expect(errs, t[0]["final_reply"] == 250, "final 250")
    s = of(recs, "session")
    if s:
        expect(errs, s[0]["unknown_commands"] == 0, "no unknown commands: %r" % s[0]["unknown_commands"])
    return errs
