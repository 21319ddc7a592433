#!/usr/bin/env python3
"""check_truth — compare smtpscope's JSON Lines with bench/gen's ground truth.

usage: check_truth.py [--examples N] TRUTH.jsonl OUTPUT.jsonl

TRUTH is the file bench/gen writes beside its capture; OUTPUT is
`smtpscope -r CAPTURE --json`. Sessions are matched by their endpoints
("client" and "server", "ip:port" or "[v6]:port"), messages by their order in
the session (transactions that carry a MAIL command, by "txn" number).

Every check prints one line, `ok   NAME (...)` or `FAIL NAME (...)` followed by
up to --examples indented examples naming the session, the field, what the
truth says and what smtpscope said; then one closing line `N passed, N failed`.
Exit status: 0 when nothing failed, 1 otherwise, 2 on unreadable input.

What is strict and what is tolerated:
  * A session without capture loss ("lossy": false) must be analysed
    completely: session record, every transaction and field below, no gap.
  * A lossy session must still be found (its handshake is never lost) and must
    report exactly the bytes the generator dropped as gaps, per direction.
    Its messages and fields may be missing or differ (a gap can swallow a
    command or a header); such differences are counted and shown as `note`
    lines, never as failures.
  * Nothing may be invented: no session or transaction for endpoints that are
    not SMTP sessions of the truth (background HTTP and random TCP flows
    included), no extra transaction in a clean session, no from_mismatch
    finding on an aligned message.
  * --loss-strict MIN: lossy sessions are held to what capture loss cannot
    excuse: at least MIN (e.g. 0.99) of all messages found; no finding there
    that the traffic does not hold (a from_mismatch on an aligned message, or
    any finding id that no clean session of the run produced, such as
    smtp_smuggling or missing_from); no invented transaction (more records
    with MAIL than messages, or a MAIL FROM that no message of the session
    has).
Python 3 standard library only.
"""
import argparse
import json
import sys
from collections import Counter, defaultdict


def load_jsonl(path, what):
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    print(f"FAIL {what} line {n} is not JSON: {e}")
                    sys.exit(2)
    except OSError as e:
        print(f"FAIL cannot read {what}: {e}")
        sys.exit(2)
    return rows


class Check:
    """One named check: counts items, keeps failure examples."""

    def __init__(self, name):
        self.name = name
        self.n = 0
        self.bad = []

    def item(self, good, example=None):
        self.n += 1
        if not good:
            self.bad.append(example)


def header_from_addresses(headers):
    """Addresses of the From: header as smtpscope reports them (list)."""
    if not isinstance(headers, dict):
        return None
    v = headers.get("from")
    if v is None:
        return None
    if isinstance(v, str):
        v = [v]
    out = []
    for x in v:
        if isinstance(x, dict):
            out.append(x.get("address"))
        else:
            out.append(x)
    return out


def header_subject(headers):
    if not isinstance(headers, dict):
        return None
    return headers.get("subject")


def finding_ids(txn):
    ids = []
    for f in txn.get("findings") or []:
        if isinstance(f, dict):
            ids.append(f.get("id"))
        else:
            ids.append(f)
    return ids


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("truth")
    ap.add_argument("output")
    ap.add_argument("--examples", type=int, default=5, help="examples shown per failed check")
    ap.add_argument("--loss-strict", type=float, default=None, metavar="MIN",
                    help="also hold lossy sessions to: MIN share of messages found, no finding the "
                         "traffic does not hold, no invented transaction")
    a = ap.parse_args()

    truth = load_jsonl(a.truth, "truth")
    out = load_jsonl(a.output, "smtpscope output")

    meta = next((r for r in truth if r.get("type") == "meta"), {})
    summary = next((r for r in truth if r.get("type") == "summary"), None)
    tsess = [r for r in truth if r.get("type") == "session"]
    smtp = {}
    other = {}
    for r in tsess:
        key = (r["client"], r["server"])
        (smtp if r["kind"] == "smtp" else other)[key] = r

    o_sess = defaultdict(list)
    o_txn = defaultdict(list)
    for r in out:
        t = r.get("type")
        if t not in ("session", "transaction"):
            continue
        key = (r.get("client"), r.get("server"))
        (o_sess if t == "session" else o_txn)[key].append(r)
    for k in o_txn:
        o_txn[k].sort(key=lambda r: (r.get("txn") or 0))

    checks = {}

    def C(name):
        if name not in checks:
            checks[name] = Check(name)
        return checks[name]

    notes = Counter()
    note_examples = []

    def desc(tr):
        return f"session {tr['id']} {tr['client']} -> {tr['server']}"

    def field(check, tr, lossy, what, want, got, where=""):
        good = want == got
        if lossy:
            if not good and got is not None:
                notes[what] += 1
                if len(note_examples) < a.examples:
                    note_examples.append(f"{desc(tr)}{where}: {what}: truth {want!r}, smtpscope {got!r}")
            return
        C(check).item(good, f"{desc(tr)}{where}: {what}: truth {want!r}, smtpscope {got!r}")

    # ---- presence / invention
    if summary is None:
        C("truth file complete").item(False, "no summary line: the generator did not finish")
    for key, tr in smtp.items():
        ss = o_sess.get(key, [])
        C("every SMTP session found").item(len(ss) >= 1, f"{desc(tr)}: no session record")
        C("one session record per session").item(len(ss) <= 1, f"{desc(tr)}: {len(ss)} session records")
    for key in sorted(set(o_sess) | set(o_txn), key=str):
        what = f"{other[key]['kind']} background flow" if key in other else "flow not in the capture's truth"
        n = len(o_sess.get(key, [])) + len(o_txn.get(key, []))
        C("nothing invented: records only for SMTP sessions").item(
            key in smtp, f"{key[0]} -> {key[1]}: {n} records for a {what}")

    n_msgs = n_msgs_found = 0
    lossy_total = lossy_complete = 0
    # finding ids the generator's traffic can hold: those of clean sessions
    clean_ids = set()
    for key, tr in smtp.items():
        if not tr.get("lossy"):
            for t in o_txn.get(key, []):
                clean_ids |= set(finding_ids(t))
            for s0 in o_sess.get(key, []):
                clean_ids |= set(finding_ids(s0))
    for key, tr in smtp.items():
        lossy = bool(tr.get("lossy"))
        ss = o_sess.get(key, [])
        s = ss[0] if ss else None
        txns = o_txn.get(key, [])
        msgs = [t for t in txns if t.get("mail_from") is not None]
        nonmsg = [t for t in txns if t.get("mail_from") is None]
        want = tr["messages"]

        # ---- reassembly: gaps exactly where the generator dropped bytes
        if s is not None:
            gb = s.get("gap_bytes")
            lost = tr.get("lost_bytes", [0, 0])
            if lossy:
                C("lossy sessions: gap bytes = bytes dropped, per direction").item(
                    gb == lost, f"{desc(tr)}: dropped {lost} (client, server), smtpscope gap_bytes {gb}")
            else:
                C("clean sessions: no gap").item(
                    (s.get("gaps") or 0) == 0 and gb in (None, [0, 0]),
                    f"{desc(tr)}: gaps {s.get('gaps')}, gap_bytes {gb} (reordered {tr.get('reordered')}, "
                    f"retransmitted {tr.get('retransmitted')})")
                C("clean sessions: QUIT seen, flow ends with FIN").item(
                    s.get("quit") is True and s.get("flow_end") in (None, "fin"),
                    f"{desc(tr)}: quit {s.get('quit')}, flow_end {s.get('flow_end')}")
            if not lossy:
                field("HELO", tr, lossy, "session helo", tr["helo"], s.get("helo"))

        # ---- messages
        if lossy:
            lossy_total += 1
        if not lossy:
            C("messages found: one transaction per message, none extra").item(
                len(msgs) == len(want) and not nonmsg,
                f"{desc(tr)}: truth {len(want)} messages, smtpscope {len(msgs)} transactions with MAIL"
                f" and {len(nonmsg)} without")
        complete = len(msgs) == len(want)
        # Pair transactions with messages: in order; in a lossy session a
        # message whose MAIL was lost is skipped over (matched by MAIL FROM).
        pair = {}
        j = 0
        for t in msgs:
            if j >= len(want):
                break
            if lossy and t.get("mail_from") != want[j]["mail_from"]:
                k = next((k for k in range(j, len(want)) if want[k]["mail_from"] == t.get("mail_from")), None)
                if k is not None:
                    j = k
            pair[j] = t
            j += 1
        for i, m in enumerate(want):
            n_msgs += 1
            t = pair.get(i)
            if t is None:
                if lossy:
                    notes["message missing"] += 1
                    complete = False
                continue
            n_msgs_found += 1
            where = f" message {i + 1}"
            field("envelope: MAIL FROM", tr, lossy, "mail_from", m["mail_from"], t.get("mail_from"), where)
            field("envelope: RCPT TO accepted", tr, lossy, "rcpt_to", m["rcpt_to"], t.get("rcpt_to"), where)
            field("envelope: RCPT TO rejected", tr, lossy, "rcpt_rejected", m["rcpt_rejected"],
                  t.get("rcpt_rejected"), where)
            field("HELO", tr, lossy, "helo", tr["helo"], t.get("helo"), where)
            auth = t.get("auth")
            if tr["auth"] is None:
                field("AUTH user and mechanism", tr, lossy, "auth", None, auth, where)
            else:
                got = None if not isinstance(auth, dict) else {
                    "mechanism": auth.get("mechanism"), "username": auth.get("username"),
                    "result": auth.get("result")}
                field("AUTH user and mechanism", tr, lossy, "auth",
                      dict(tr["auth"], result="success"), got, where)
            field("message transfer: DATA/BDAT, complete, size", tr, lossy, "xfer/complete/size/final",
                  (m["xfer"], True, m["size"], 250),
                  (t.get("xfer"), t.get("message_complete"), t.get("size"), t.get("final_reply")), where)
            hfrom = header_from_addresses(t.get("headers"))
            field("headers: From: address", tr, lossy, "From: address", [m["from"]], hfrom, where)
            field("headers: Subject (RFC 2047 decoded, unfolded)", tr, lossy, "Subject", m["subject"],
                  header_subject(t.get("headers")), where)
            spoof = "from_mismatch" in finding_ids(t)
            if lossy:
                if spoof != m["spoofed"]:
                    notes["from_mismatch differs"] += 1
            elif m["spoofed"]:
                C("spoofs found: from_mismatch on every unaligned From:").item(
                    spoof, f"{desc(tr)}{where}: MAIL FROM {m['mail_from']!r} (HELO {tr['helo']!r}), "
                           f"From: {m['from']!r}: no from_mismatch; findings {finding_ids(t)}")
            else:
                C("no false spoof: no from_mismatch on an aligned From:").item(
                    not spoof, f"{desc(tr)}{where}: MAIL FROM {m['mail_from']!r} (HELO {tr['helo']!r}), "
                               f"From: {m['from']!r}: from_mismatch: "
                               f"{[f for f in t.get('findings') or [] if isinstance(f, dict) and f.get('id') == 'from_mismatch']}")
        if lossy and complete:
            lossy_complete += 1
        if lossy and a.loss_strict is not None:
            froms = [m["mail_from"] for m in want]
            C("loss: no invented transaction in lossy sessions").item(
                len(msgs) <= len(want) and all(t.get("mail_from") in froms for t in msgs),
                f"{desc(tr)}: truth MAIL FROM {froms}, smtpscope {[t.get('mail_from') for t in msgs]}")
            for t in txns + ss:
                extra = [i for i in finding_ids(t) if i not in clean_ids]
                C("loss: no finding the traffic does not hold").item(
                    not extra, f"{desc(tr)}: {t.get('type')} finding(s) {extra} appear in no clean session")
            for i, m in enumerate(want):
                t = pair.get(i)
                if t is not None and not m["spoofed"]:
                    C("loss: no false spoof in lossy sessions").item(
                        "from_mismatch" not in finding_ids(t),
                        f"{desc(tr)} message {i + 1}: aligned, from_mismatch reported")

    if a.loss_strict is not None:
        C(f"loss: at least {a.loss_strict:.1%} of messages found").item(
            n_msgs_found >= a.loss_strict * n_msgs, f"{n_msgs_found} of {n_msgs} messages found")

    # ---- report
    failed = passed = 0
    for c in checks.values():
        nb = len(c.bad)
        if nb:
            failed += 1
            print(f"FAIL {c.name} ({nb} of {c.n} wrong)")
            for e in c.bad[: a.examples]:
                if e:
                    print(f"     {e}")
        else:
            passed += 1
            print(f"ok   {c.name} ({c.n} checked)")
    found_findings = Counter(i for ts in o_txn.values() for t in ts for i in finding_ids(t))
    print(f"info truth: {len(smtp)} SMTP sessions ({lossy_total} lossy), {n_msgs} messages, "
          f"{len(other)} background flows; seed {meta.get('seed')}")
    print(f"info smtpscope: {sum(len(v) for v in o_sess.values())} session records, "
          f"{sum(len(v) for v in o_txn.values())} transaction records; "
          f"{n_msgs_found} of {n_msgs} messages matched; "
          f"lossy sessions with every message found: {lossy_complete} of {lossy_total}")
    if found_findings:
        print("info findings seen: " + ", ".join(f"{k} {v}" for k, v in sorted(found_findings.items())))
    if notes:
        print("note lossy sessions (tolerated): " + ", ".join(f"{k} {v}" for k, v in sorted(notes.items())))
        for e in note_examples:
            print(f"     {e}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
