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
appear: "mail_from_seen", "not_mail_from").
Prints one line per problem and exits 1 if there was any."""
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
    for p in problems:
        print("%s: %s" % (name, p))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
