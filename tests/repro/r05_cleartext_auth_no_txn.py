"""Review item 5: credentials in clear with no transaction: a session-scoped
cleartext_auth, counted by the summary and --fail-on."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from _util import of, expect
SCRIPT = "cleartext_auth_without_transaction.py"
ARGS = ["{out}/r.pcap"]
PCAP = "r.pcap"


def check(recs, run):
    errs = []
    s = of(recs, "session")
    expect(errs, s and [f["id"] for f in s[0].get("findings", [])] == ["cleartext_auth"], "session finding")
    summ, rc, _ = run("r.pcap", "--summary", "--fail-on", "high")
    expect(errs, rc == 3, "--fail-on high exits 3, got %d" % rc)
    expect(errs, summ and summ[-1].get("findings", {}).get("high") == 1, "summary counts it: %r" % (summ and summ[-1].get("findings")))
    return errs
