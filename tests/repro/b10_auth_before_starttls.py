"""b10: AUTH in clear before STARTTLS: cleartext_auth/high (on the session:
no transaction carries it), and no AUTH in effect after STARTTLS (RFC 3207
§4.2), so no auth_sender_mismatch."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect, findings

SCRIPT = "more/b10_auth_before_starttls_kept_after.py"


def check(recs, run):
    errs = []
    f = findings(recs)
    expect(errs, ("cleartext_auth", "high") in f, "cleartext_auth/high: %r" % f)
    expect(errs, not any(i == "auth_sender_mismatch" for i, _ in f), "no auth_sender_mismatch: %r" % f)
    t = of(recs, "transaction")
    expect(errs, t and t[0]["auth"] is None, "transaction auth null: %r" % (t and t[0]["auth"]))
    s = of(recs, "session")
    expect(errs, s and any(x["id"] == "cleartext_auth" for x in s[0].get("findings", [])), "on the session record")
    return errs
