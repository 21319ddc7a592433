#!/usr/bin/env python3
"""check — verify smtpscope's JSON output for one hostile capture (tests/t_hostile.sh).

    check.py NAME EXPECT.json OUTPUT.json [TEXT_OUTPUT]

OUTPUT.json: `smtpscope --json` (optionally with --summary: a final
"summary" record whose "anomalies" object counts every anomaly of the run).
Checks: every line parses as JSON; each anomaly name expected for NAME appears
in some record; the normal session (AUTH user, MAIL FROM, RCPT TO, message
accepted) is reported, as often as expected, and so is each session listed
under "also"; capture-specific checks (rcpt_total, no raw control bytes in
the JSON or the text transcript, MAIL FROM addresses that must or must not
appear: "mail_from_seen", "not_mail_from", the transactions of
unicode_lower_*: MAIL FROM and From: address, by SHA-1 of their UTF-8, each
reported once with the message accepted; "nul_headers": display name,
Subject and attachment name of each transaction with its NUL as U+FFFD).
Prints one line per problem and exits 1 if there was any."""
import hashlib
import json
import re
import sys


def main():
    name, expect_path, out_path = sys.argv[1:4]
    text_path = sys.argv[4] if len(sys.argv) > 4 else None
    with open(expect_path) as f:
        allexp = json.load(f)
    exp = allexp[name] if name in allexp else allexp
    problems = []
    with open(out_path, "rb") as f:
        raw = f.read()
    recs = []
    for k, line in enumerate(raw.split(b"\n")):
        if not line:
            continue
        try:
            recs.append(json.loads(line))
        except ValueError as e:
            problems.append("line %d is not JSON: %s" % (k + 1, e))
    seen = set()
    for r in recs:
        a = r.get("anomalies")
        if isinstance(a, list):
            seen.update(a)
        elif isinstance(a, dict):
            seen.update(a.keys())
    for want in exp.get("anomalies", []):
        if want not in seen:
            problems.append("anomaly %s not reported (seen: %s)" % (want, " ".join(sorted(seen)) or "none"))
    def reported(n):
        return [r for r in recs if r.get("type") == "transaction" and r.get("mail_from") == n["mail_from"]
                and n["rcpt"] in (r.get("rcpt_to") or []) and (r.get("auth") or {}).get("username") == n["user"]
                and r.get("final_reply") == 250 and r.get("message_complete") is True]
    good = reported(exp["normal"])
    if len(good) != exp.get("normal_sessions", 1):
        problems.append("normal session reported %d times, expected %d" % (len(good), exp.get("normal_sessions", 1)))
    for n in exp.get("also", []):
        k = len(reported(n))
        if k != 1:
            problems.append("session of %s (MAIL FROM %s) reported %d times, expected once" % (n["user"], n["mail_from"], k))
    froms = [r.get("mail_from") for r in recs if r.get("type") == "transaction"]
    for m in exp.get("mail_from_seen", []):
        if m not in froms:
            problems.append("no transaction with MAIL FROM %s (first data must win); seen: %s" % (m, froms))
    for m in exp.get("not_mail_from", []):
        if m in froms:
            problems.append("a transaction with MAIL FROM %s, which must not be taken" % m)
    if "rcpt_total" in exp and not any(r.get("rcpt_total") == exp["rcpt_total"] and len(r.get("rcpt_to", [])) <= 1000
                                       for r in recs if r.get("type") == "transaction"):
        problems.append("no transaction with rcpt_total %d (and at most 1000 stored)" % exp["rcpt_total"])
    if "min_flows" in exp:
        s = [r for r in recs if r.get("type") == "summary"]
        if not s or s[-1].get("tcp_flows", 0) < exp["min_flows"]:
            problems.append("summary tcp_flows below %d" % exp["min_flows"])
    if exp.get("no_raw_escapes"):
        for b in (b"\x1b", b"\x00", b"\x7f", b"\x9b", b"\r", b"\x08"):
            if b in raw:
                problems.append("raw byte %r in the JSON output" % b)
        if text_path:
            with open(text_path, "rb") as f:
                txt = f.read()
            bad = re.search(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]", txt)
            if bad:
                problems.append("control byte %r in the text transcript at %d" % (bad.group(0), bad.start()))
            try:
                txt.decode("utf-8")
            except UnicodeDecodeError as e:
                problems.append("text transcript is not UTF-8: %s" % e)
    for want in exp.get("transactions", []):
        hits = []
        for r in recs:
            if r.get("type") != "transaction" or not isinstance(r.get("mail_from"), str):
                continue
            mf = r["mail_from"].encode("utf-8", "surrogateescape")
            if len(mf) == want["bytes"] and hashlib.sha1(mf).hexdigest() == want["sha1"]:
                hits.append(r)
        if len(hits) != 1:
            problems.append("transaction %s (MAIL FROM of %d bytes) reported %d times" % (want["local"], want["bytes"], len(hits)))
            continue
        r = hits[0]
        frm = ((r.get("headers") or {}).get("from") or [{}])[0].get("address")
        if frm != r["mail_from"]:
            problems.append("transaction %s: From: %r is not its MAIL FROM" % (want["local"], (frm or "")[:40]))
        if r.get("final_reply") != 250 or r.get("message_complete") is not True:
            problems.append("transaction %s: message not reported accepted" % want["local"])
    for want in exp.get("nul_headers", []):
        rs = [r for r in recs if r.get("type") == "transaction" and r.get("mail_from") == want["mail_from"]]
        if len(rs) != 1:
            problems.append("transaction %s reported %d times" % (want["mail_from"], len(rs)))
            continue
        h = rs[0].get("headers") or {}
        got = {"from_name": ((h.get("from") or [{}])[0]).get("name"), "subject": h.get("subject"),
               "attachment": ((h.get("attachments") or [{}])[0]).get("name")}
        for k, v in got.items():
            if v != want[k]:
                problems.append("%s: %s is %r, expected %r (a NUL is U+FFFD, nothing cut)" % (want["mail_from"], k, v, want[k]))
    for p in problems:
        print("%s: %s" % (name, p))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
