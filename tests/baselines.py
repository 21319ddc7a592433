#!/usr/bin/env python3
"""Cross-check smtpscope's JSON transaction records against other tools'
expected output stored beside the public captures (python3 stdlib only).

Baselines (see /work/shared/captures/public/MANIFEST.md and docs/baselines.md):

  *.zeek-smtp*.log          Zeek btest baseline smtp.log: one row per SMTP
                            transaction (TSV with a #fields header).
  *.suricata-test*.yaml     suricata-verify test.yaml: `checks:` filters on
                            the eve records (smtp / email / fileinfo / alert).
  *.arkime-test.json        Arkime's expected session JSON (email.* fields,
                            one document per TCP session).

For every capture with a baseline, smtpscope is run once:
    smtpscope -q -r FILE --json --ports PORTS
and its "transaction" / "session" records are compared with the baseline on
the fields both tools produce:

  zeek      per transaction, aligned in order within each connection:
            [envelope] helo, mailfrom, rcptto, tls, last_reply
            [headers]  subject, from, to, cc, reply_to, date, msg_id,
                       in_reply_to, user_agent, first_received,
                       second_received
  suricata  per filter (deduplicated across the tests replaying one pcap):
            smtp.helo, smtp.mail_from, smtp.rcpt_to[i], email.from,
            email.to[i], email.cc[i], email.subject, email.attachment[i],
            email.message_id, email.date, email.x_mailer, email.received[i],
            fileinfo.filename, has-key / not-has-key on those; the
            filter's count for event_type smtp
  arkime    per session (Arkime aggregates a session into sets):
            [envelope] email.src, email.dst, email.smtpHello, user (AUTH)
            [headers]  email.subject (RFC 2047 decoded), email.useragent,
                       email.filename, email.id

Normalisation (docs/baselines.md has the reasons): addresses lower-cased,
without <> and parameters; Zeek's "-" / "(empty)" as unset / empty; Zeek's
`\\xHH` escapes and our `\\udcHH` surrogates both compared as bytes; sets
where the other tool keeps a set (Zeek rcptto/to/cc, every Arkime field);
Subject without leading/trailing blanks; Arkime's smtpHello lower-case (a
"lotermfield"); RFC 2047 words in a baseline decoded before comparing;
header dates, ids and Received fields with runs of white space as one space
(Suricata's Received with no white space at all).  Zeek rows and our
transactions are aligned per connection (Zeek and we may cut transactions
differently); a Suricata filter on HELO alone also matches a session record
without transactions (Suricata logs such a session as a transaction); a
Suricata tx_id T is our transaction T+1 of the flow.

Every difference is either a FAIL or listed in EXPECTED_DIFFERENCES below
(with a one-line reason; details in docs/baselines.md).  An entry that no
longer matches any difference is reported as a FAIL ("stale"), so the table
stays true.

Output: one line per compared record and field group,
    ok SOURCE FILE WHERE [group] fields...
    FAIL SOURCE FILE WHERE [group] field: ours X vs theirs Y; ...
    expected-diff SOURCE FILE WHERE [group] field: ours X vs theirs Y (reason)
then "N passed, N failed, N expected differences".  Exit 1 on any failure.

    python3 tests/baselines.py [--smtpscope BIN] [--root DIR] [-v] [FILTER ...]

FILTER: only captures whose corpus path contains one of these substrings.
"""

import argparse
import email.header
import email.utils
import json
import os
import re
import subprocess
import sys

PORTS = "25,587,2025,2525,1224,8240,465"
# Captures whose SMTP server listens on a port outside PORTS.
EXTRA_PORTS = {
    "arkime/socks5-smtp-503.pcap": "1080",  # SMTP through a SOCKS5 proxy
}
TIMEOUT = 60

# ---------------------------------------------------------------------------
# Expected differences.  Key: (source, capture path in the corpus, where,
# field).  `where` is the part of the output line after the file name and
# before any "=" / "~": "row N" (zeek smtp.log; "TEST.log row N" for another
# test's log), "check suricata-test[.TEST].yaml#N" (N counts the yaml's
# checks from 1), "session CLIENT-IP:PORT" (arkime); field is the baseline's
# field name, "count" for a Suricata filter count, or "record" for a record
# that exists on one side only.  Every entry was checked against the capture
# (tshark -r FILE -q -z follow,tcp,ascii,N); docs/baselines.md has the
# evidence.
# ---------------------------------------------------------------------------
EXPECTED_DIFFERENCES = {
    # --- Zeek ---------------------------------------------------------------
    # EHLO, STARTTLS, 220, then TLS: no MAIL was ever sent.  Zeek logs a row
    # for the session (helo, tls=T, last_reply 220); we emit no transaction,
    # only the session record (its helo and tls are compared: "[session]").
    ("zeek", "zeek/tls/smtp-starttls.pcap", "row 1", "record"):
        "Zeek logs a row for a STARTTLS-only session; we emit only the session record",
    # MAIL 250, DATA 503 twice, then a second MAIL answered "503 sender
    # already given", RCPT 250, DATA, message.  Zeek starts a new row at every
    # MAIL command; for us the rejected nested MAIL does not end the
    # transaction (schema.md "Transactions"): our txn 3 = Zeek rows 3 + 4.
    ("zeek", "zeek/smtp-mail-transactions-invalid.pcap", "row 3", "record"):
        "Zeek cuts a row at the nested MAIL answered 503; we keep one transaction (rows 3+4 = our txn 3)",

    # --- Suricata -----------------------------------------------------------
    # firewall-129 / -136 replay the pcap with --simulate-ips and a rule that
    # blocks sender bob: Suricata drops the flow at bob's transaction and never
    # logs it (or anything after it).  A passive monitor sees the whole
    # capture: the later transactions are in it (tshark: MAIL FROM:<bob...>
    # 250, DATA 354, "250 2.0.0 Ok: queued as ...").
    ("suricata", "suricata-verify/firewall/ruletype-firewall-128-smtp-rset-next-tx-delivered/smtp-rset-change-sender.pcap",
     "check suricata-test.firewall_ruletype-firewall-129-smtp-rset-next-tx-blocked-sender.yaml#4", "count"):
        "IPS mode: Suricata drops bob's transaction; passive, we log it",
    ("suricata", "suricata-verify/firewall/ruletype-firewall-135-smtp-multi-mail-accept/smtp-multi-mail.pcap",
     "check suricata-test.firewall_ruletype-firewall-136-smtp-multi-mail-blocked-sender.yaml#2", "count"):
        "IPS mode: the flow is dropped at message 2, so Suricata never logs message 3 (alice again); we do",
    ("suricata", "suricata-verify/firewall/ruletype-firewall-135-smtp-multi-mail-accept/smtp-multi-mail.pcap",
     "check suricata-test.firewall_ruletype-firewall-136-smtp-multi-mail-blocked-sender.yaml#4", "count"):
        "IPS mode: Suricata drops bob's transaction; passive, we log it",
    # Content-Disposition: attachment; filename="12characters...12characters.exe"
    # is 280 characters on the wire; Suricata cuts file names at 255 bytes.
    ("suricata", "suricata-verify/mime/mime-dec-parse-long-filename01/input.pcap",
     "check suricata-test.yaml#2", "email.attachment[0]"):
        "Suricata truncates file names to 255 bytes; the name on the wire has 280",
    ("suricata", "suricata-verify/mime/mime-dec-parse-long-filename01/input.pcap",
     "check suricata-test.yaml#4", "email.attachment[0]"):
        "Suricata truncates file names to 255 bytes; the name on the wire has 280",
    ("suricata", "suricata-verify/mime/mime-dec-parse-long-filename01/input.pcap",
     "check suricata-test.yaml#4", "fileinfo.filename"):
        "Suricata truncates file names to 255 bytes; the name on the wire has 280",
    # "EHLO OBLAHOBLAH..." is a 4095-byte line.  We store HELO arguments up to
    # SMTP_PARAM_MAX = 256 bytes (docs/schema.md); Suricata keeps 4091 bytes
    # (ending in the CR).  Our value is the first 256 bytes of theirs.
    ("suricata", "suricata-verify/smtp-long-command/input.pcap", "check suricata-test.yaml#1", "smtp.helo"):
        "we cap HELO at SMTP_PARAM_MAX (256 bytes); Suricata keeps 4091",

    # --- Arkime -------------------------------------------------------------
    # The client sends "HELO" without an argument (501 5.0.0 HELO requires
    # domain address).  We record the empty argument; Arkime records nothing.
    ("arkime", "arkime/smtp-nospaces.pcap", "session 127.0.0.1:42971", "smtpHello"):
        "HELO without argument: we store '', Arkime nothing",
    # Subject is three encoded words separated by CRLF + 2 spaces (folding).
    # RFC 2047 6.2: white space between adjacent encoded words is ignored;
    # Arkime unfolds into spaces and keeps them ("xxxxxxx  xx").
    ("arkime", "arkime/smtp-subject-multi-nospace.pcap", "session 10.0.0.1:58802", "subject"):
        "Arkime keeps the folding white space between adjacent encoded words (RFC 2047 6.2 drops it)",
    # "Subject: Awesome windows: See What\x92s Next" - a raw 8-bit byte, no
    # encoded word, no charset anywhere.  Arkime converts unencoded header text
    # from Windows-1252 (U+2019); we keep the byte as sent (JSON \udc92).
    ("arkime", "arkime/smtp-subject-windows.pcap", "session 10.0.0.1:40531", "subject"):
        "raw byte 0x92 in the header: Arkime assumes Windows-1252, we keep the byte",
    # filename= is 8192 'A's (client stream, --dump-streams); Arkime decodes
    # names into a 4095-byte buffer (smtp_email_add_encoded: output[0xfff]).
    ("arkime", "arkime/smtp-moloch-bof.pcap", "session 127.0.0.1:50328", "filename"):
        "Arkime truncates the 8192-byte file name to 4095 bytes",
}

# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------


def to_bytes(s):
    """Our JSON strings carry invalid UTF-8 as lone surrogates (PEP 383)."""
    if s is None:
        return None
    if isinstance(s, bytes):
        return s
    return s.encode("utf-8", "surrogateescape")


def show(v):
    if isinstance(v, bytes):
        v = v.decode("utf-8", "backslashreplace")
    if isinstance(v, (list, tuple, set, frozenset)):
        v = sorted(show(x) for x in v) if isinstance(v, (set, frozenset)) else [show(x) for x in v]
        return "[" + ", ".join(v) + "]"
    if v is None:
        return "-"
    s = repr(v) if isinstance(v, str) else str(v)
    if len(s) > 120:
        s = "%s...%s (%d chars)" % (s[:60], s[-24:], len(v) if isinstance(v, str) else len(s))
    return s


def addr_norm(a):
    """An address as both tools store it: lower-case, no <>, no spaces."""
    if a is None:
        return None
    if isinstance(a, bytes):
        a = a.decode("utf-8", "surrogateescape")
    a = a.strip()
    if a.startswith("<"):
        a = a[1:]
        if ">" in a:
            a = a[:a.index(">")]
    return a.strip().lower()


def header_addrs(values):
    """Addresses of an address header value (or list of values), lower-case,
    in order."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out = []
    for _name, addr in email.utils.getaddresses([v for v in values if v]):
        if addr:
            out.append(addr.lower())
    return out


def decode_2047(s):
    """Decode RFC 2047 encoded words of a header value (for baselines that
    keep the raw header)."""
    if s is None or "=?" not in s:
        return s
    try:
        return str(email.header.make_header(email.header.decode_header(s)))
    except Exception:  # noqa: BLE001 - undecodable: compare raw
        return s


def ws_norm(b):
    """Unfolded header text: runs of white space as one space, trimmed."""
    if b is None:
        return None
    return re.sub(rb"[ \t\r\n]+", b" ", b).strip()


def strip(s):
    """Leading/trailing white space of an unstructured header value (Zeek and
    Arkime drop only the first space after the colon)."""
    return s.strip(" \t") if isinstance(s, str) else s


def endpoint(s):
    """'192.0.2.1:25' / '[2001:db8::1]:25' -> ('192.0.2.1', 25)"""
    m = re.match(r"^\[?(.*?)\]?:(\d+)$", s)
    return (m.group(1).lower(), int(m.group(2))) if m else (s, 0)


# ---------------------------------------------------------------------------
# running smtpscope
# ---------------------------------------------------------------------------

class Ours:
    """smtpscope's records for one capture."""

    def __init__(self, rc, txns, sessions, err):
        self.rc = rc
        self.txns = txns
        self.sessions = sessions
        self.err = err

    def conn_txns(self, client, server):
        return [t for t in self.txns
                if endpoint(t["client"]) == client and endpoint(t["server"]) == server]

    def conn_sessions(self, client, server):
        return [s for s in self.sessions
                if endpoint(s["client"]) == client and endpoint(s["server"]) == server]


_cache = {}


def run_smtpscope(binary, root, rel):
    if rel in _cache:
        return _cache[rel]
    ports = PORTS + ("," + EXTRA_PORTS[rel] if rel in EXTRA_PORTS else "")
    cmd = [binary, "-q", "-r", os.path.join(root, rel), "--json", "--ports", ports]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        o = Ours(-1, [], [], "timed out after %d s" % TIMEOUT)
        _cache[rel] = o
        return o
    txns, sessions = [], []
    rc, err = p.returncode, p.stderr.decode("utf-8", "replace").strip()
    for n, line in enumerate(p.stdout.decode("utf-8", "surrogateescape").splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except ValueError as e:
            rc, err = -1, "output line %d is not JSON (%s): %s" % (n, e, line[:200])
            break
        if r.get("type") == "transaction":
            txns.append(r)
        elif r.get("type") == "session":
            sessions.append(r)
    o = Ours(rc, txns, sessions, err)
    _cache[rel] = o
    return o


def hdr(t, key, default=None):
    h = t.get("headers") or {}
    v = h.get(key)
    return default if v is None else v


def hdr_addrs(t, key):
    v = hdr(t, key, [])
    if isinstance(v, dict):
        v = [v]
    return [addr_norm(x.get("address")) for x in v if x.get("address") is not None]


def all_rcpts(t):
    return [addr_norm(a) for a in (t.get("rcpt_to") or []) + (t.get("rcpt_rejected") or [])]


# ---------------------------------------------------------------------------
# result bookkeeping
# ---------------------------------------------------------------------------

class Results:
    def __init__(self, verbose):
        self.by_source = {}
        self.passed = 0
        self.failed = 0
        self.expected = 0
        self.used = set()
        self.verbose = verbose

    def report(self, source, rel, where, group, fields, diffs, key_where=None):
        """diffs: list of (field, ours, theirs).  One output line.  The
        EXPECTED_DIFFERENCES key uses key_where (default: where)."""
        head = "%s %s %s [%s]" % (source, rel, where, group)
        tally = self.by_source.setdefault(source, [0, 0, 0])
        if not diffs:
            tally[0] += 1
            self.passed += 1
            print("ok   %s %s" % (head, ",".join(fields)))
            return
        unexpected, expected = [], []
        for field, o, t in diffs:
            key = (source, rel, key_where or where, field)
            txt = "%s: ours %s vs %s %s" % (field, show(o), source, show(t))
            if key in EXPECTED_DIFFERENCES:
                self.used.add(key)
                expected.append("%s (expected: %s)" % (txt, EXPECTED_DIFFERENCES[key]))
            else:
                unexpected.append(txt)
        if unexpected:
            tally[1] += 1
            self.failed += 1
            print("FAIL %s %s" % (head, "; ".join(unexpected + expected)))
        else:
            tally[2] += 1
            self.expected += 1
            print("expected-diff %s %s" % (head, "; ".join(expected)))

    def fail(self, source, rel, what):
        self.by_source.setdefault(source, [0, 0, 0])[1] += 1
        self.failed += 1
        print("FAIL %s %s %s" % (source, rel, what))


def cmp_field(diffs, name, ours, theirs):
    if ours != theirs:
        diffs.append((name, ours, theirs))


# ---------------------------------------------------------------------------
# Zeek
# ---------------------------------------------------------------------------

def zeek_unescape(s):
    """Zeek log text -> bytes (\\xHH escapes, \\\\)."""
    out = bytearray()
    i = 0
    b = s.encode("utf-8", "surrogateescape")
    while i < len(b):
        if b[i:i + 2] == b"\\x" and re.match(rb"[0-9a-fA-F]{2}", b[i + 2:i + 4]):
            out.append(int(b[i + 2:i + 4], 16))
            i += 4
        elif b[i:i + 2] == b"\\\\":
            out.append(0x5c)
            i += 2
        else:
            out.append(b[i])
            i += 1
    return bytes(out)


def read_zeek(path):
    fields, empty, unset, setsep = None, "(empty)", "-", ","
    rows = []
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                parts = line.split("\t")
                if parts[0] == "#fields":
                    fields = parts[1:]
                elif parts[0] == "#empty_field":
                    empty = parts[1]
                elif parts[0] == "#unset_field":
                    unset = parts[1]
                elif parts[0] == "#set_separator":
                    setsep = parts[1]
                continue
            if not line or fields is None:
                continue
            raw = dict(zip(fields, line.split("\t")))
            row = {}
            for k, v in raw.items():
                if v == unset:
                    row[k] = None
                elif v == empty:
                    row[k] = ""
                else:
                    row[k] = v
            row["_setsep"] = setsep
            rows.append(row)
    return rows


def zeek_set(row, key):
    v = row.get(key)
    if not v:
        return []
    return v.split(row["_setsep"])


def zeek_envelope(row, t):
    """[(field, ours, theirs)] for the envelope group (t may be None)."""
    d = []
    mf = row.get("mailfrom")
    cmp_field(d, "helo", to_bytes(t.get("helo")), zeek_unescape(row["helo"]) if row.get("helo") is not None else None)
    cmp_field(d, "mailfrom", addr_norm(t.get("mail_from")), addr_norm(zeek_unescape(mf)) if mf is not None else None)
    cmp_field(d, "rcptto", frozenset(all_rcpts(t)),
              frozenset(addr_norm(zeek_unescape(x)) for x in zeek_set(row, "rcptto")))
    cmp_field(d, "tls", bool(t.get("tls")), row.get("tls") == "T")
    lr = row.get("last_reply")
    cmp_field(d, "last_reply", to_bytes(t.get("last_reply")), zeek_unescape(lr) if lr is not None else None)
    return d


ZEEK_ENVELOPE = ["helo", "mailfrom", "rcptto", "tls", "last_reply"]
ZEEK_HEADERS = ["subject", "from", "to", "cc", "reply_to", "date", "msg_id", "in_reply_to", "user_agent",
                "first_received", "second_received"]


def zeek_headers(row, t):
    d = []

    def zb(key):
        v = row.get(key)
        return None if v is None else zeek_unescape(v)

    def zs(key):
        v = zb(key)
        return None if v is None else decode_2047(v.decode("utf-8", "surrogateescape"))

    def ours_s(key):
        v = hdr(t, key)
        return None if v is None else v

    subj = zs("subject")
    cmp_field(d, "subject", strip(ours_s("subject")), strip(subj))
    frm = zs("from")
    cmp_field(d, "from", hdr_addrs(t, "from"), header_addrs(frm) if frm is not None else [])
    # to / cc are Zeek sets of the comma-split header value
    for zk, ok in (("to", "to"), ("cc", "cc")):
        vals = [zeek_unescape(x).decode("utf-8", "surrogateescape") for x in zeek_set(row, zk)]
        cmp_field(d, zk, frozenset(hdr_addrs(t, ok)), frozenset(header_addrs(",".join(vals)) if vals else []))
    rt = zs("reply_to")
    cmp_field(d, "reply_to", hdr_addrs(t, "reply_to"), header_addrs(rt) if rt is not None else [])
    cmp_field(d, "date", ws_norm(to_bytes(ours_s("date"))), ws_norm(zb("date")))
    cmp_field(d, "msg_id", ws_norm(to_bytes(ours_s("message_id"))), ws_norm(zb("msg_id")))
    cmp_field(d, "in_reply_to", ws_norm(to_bytes(ours_s("in_reply_to"))), ws_norm(zb("in_reply_to")))
    cmp_field(d, "user_agent", ws_norm(to_bytes(ours_s("user_agent"))), ws_norm(zb("user_agent")))
    # Zeek keeps the last two Received fields in header order: "first" is
    # the bottom one (the first hop), "second" the one above it
    rcv = [ws_norm(to_bytes(x)) for x in hdr(t, "received", [])]
    cmp_field(d, "first_received", rcv[-1] if rcv else None, ws_norm(zb("first_received")))
    cmp_field(d, "second_received", rcv[-2] if len(rcv) > 1 else None, ws_norm(zb("second_received")))
    return d


def zeek_similarity(row, t):
    """How well a zeek row and one of our transactions match (for aligning)."""
    s = 0
    env = dict((f, (o, th)) for f, o, th in zeek_envelope(row, t))
    for f in ZEEK_ENVELOPE:
        if f not in env:
            s += 2 if f in ("mailfrom", "last_reply", "rcptto") else 1
    return s


def align(left, right, sim, minimum):
    """Order-preserving alignment maximising the summed similarity; pairs
    below `minimum` are not made.  -> list of (i or None, j or None)."""
    n, m = len(left), len(right)
    score = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            best = max(score[i + 1][j], score[i][j + 1])
            s = sim(left[i], right[j])
            if s >= minimum:
                best = max(best, s + score[i + 1][j + 1])
            score[i][j] = best
    out = []
    i = j = 0
    while i < n and j < m:
        s = sim(left[i], right[j])
        if s >= minimum and score[i][j] == s + score[i + 1][j + 1]:
            out.append((i, j))
            i += 1
            j += 1
        elif score[i][j] == score[i + 1][j]:
            out.append((i, None))
            i += 1
        else:
            out.append((None, j))
            j += 1
    out += [(k, None) for k in range(i, n)]
    out += [(None, k) for k in range(j, m)]
    return out


def check_zeek(res, binary, root, rel, base):
    ours = run_smtpscope(binary, root, rel)
    rows = read_zeek(os.path.join(root, base))
    label = os.path.basename(base)[len(os.path.basename(rel)) + 1:]
    # "zeek-smtp.log" is the smtp test's baseline; another test's smtp.log on
    # the same trace is "zeek-smtp.<test>.log": its rows are named after it
    log = "" if label == "zeek-smtp.log" else label[len("zeek-smtp."):] + " "
    src = "zeek"
    # group by connection, keeping the log order
    conns = {}
    for n, row in enumerate(rows, 1):
        key = ((row["id.orig_h"].lower(), int(row["id.orig_p"])), (row["id.resp_h"].lower(), int(row["id.resp_p"])))
        conns.setdefault(key, []).append((n, row))
    for (client, server), zrows in conns.items():
        txns = ours.conn_txns(client, server)
        # Zeek and we may cut transactions differently (see the expected
        # differences): align the two sequences, pairing like records
        pairs = align([r for _, r in zrows], txns, zeek_similarity, 4)
        for zi, oi in pairs:
            if zi is None:
                t = txns[oi]
                where = "%ssession %d txn %d" % (log, t["session"], t["txn"])
                res.report(src, rel, where, "record", ["record"],
                           [("record", "txn %d (mail_from %s, last_reply %s)"
                             % (t["txn"], show(t.get("mail_from")), show(t.get("last_reply"))), "no row")])
                continue
            n, row = zrows[zi]
            wkey = "%srow %d" % (log, n)
            if oi is None:
                res.report(src, rel, wkey, "record", ["record"],
                           [("record", "no transaction",
                             "row (mailfrom %s, rcptto %s, last_reply %s)"
                             % (show(row.get("mailfrom")), show(row.get("rcptto")), show(row.get("last_reply"))))])
                sess = ours.conn_sessions(client, server)
                if row.get("mailfrom") is None and not row.get("rcptto") and len(sess) == 1:
                    # a row without envelope (e.g. only EHLO + STARTTLS): what
                    # it holds is in our session record
                    o = sess[0]
                    d = []
                    cmp_field(d, "helo", to_bytes(o.get("helo")),
                              zeek_unescape(row["helo"]) if row.get("helo") is not None else None)
                    cmp_field(d, "tls", bool(o.get("tls")), row.get("tls") == "T")
                    res.report(src, rel, "%s = session %d (session record)" % (wkey, o["session"]), "session",
                               ["helo", "tls"], d, wkey)
                continue
            t = txns[oi]
            where = "%s = session %d txn %d" % (wkey, t["session"], t["txn"])
            res.report(src, rel, where, "envelope", ZEEK_ENVELOPE, zeek_envelope(row, t), wkey)
            res.report(src, rel, where, "headers", ZEEK_HEADERS, zeek_headers(row, t), wkey)
    # transactions on connections zeek never logged
    for t in ours.txns:
        key = (endpoint(t["client"]), endpoint(t["server"]))
        if key not in conns:
            res.report(src, rel, "%ssession %d txn %d" % (log, t["session"], t["txn"]), "record", ["record"],
                       [("record", "txn on %s -> %s" % (t["client"], t["server"]), "no row for the connection")])


# ---------------------------------------------------------------------------
# Suricata (suricata-verify test.yaml)
# ---------------------------------------------------------------------------

def _yaml_strip_comment(line):
    q = None
    i = 0
    while i < len(line):
        c = line[i]
        if q:
            if c == q:
                if q == "'" and line[i + 1:i + 2] == "'":
                    i += 2
                    continue
                q = None
            elif c == "\\" and q == '"':
                i += 1
        elif c in "'\"" and (i == 0 or line[i - 1] in " \t:-[,"):
            q = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
        i += 1
    return line


def _yaml_scalar(s):
    s = s.strip()
    if not s:
        return None
    if len(s) >= 2 and s[0] == "'" and s[-1] == "'":
        return s[1:-1].replace("''", "'")
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        body = s[1:-1]
        if "\\" in body:
            body = body.encode("utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")
        return body
    if s[0] == "[" and s[-1] == "]":
        items, cur, q = [], "", None
        for c in s[1:-1]:
            if q:
                cur += c
                if c == q:
                    q = None
            elif c in "'\"":
                q = c
                cur += c
            elif c == ",":
                items.append(_yaml_scalar(cur))
                cur = ""
            else:
                cur += c
        if cur.strip():
            items.append(_yaml_scalar(cur))
        return items
    if s in ("true", "True"):
        return True
    if s in ("false", "False"):
        return False
    if s in ("null", "~"):
        return None
    if re.fullmatch(r"-?\d+", s):
        return int(s)
    return s


def parse_yaml(text):
    """The YAML subset suricata-verify uses: block maps and sequences by
    indentation, plain/quoted scalars, flow sequences, comments."""
    lines = []
    for raw in text.splitlines():
        s = _yaml_strip_comment(raw).rstrip()
        if not s.strip() or s.strip() in ("---", "..."):
            continue
        lines.append([len(s) - len(s.lstrip(" ")), s.strip()])
    pos = [0]

    def isseq(c):
        return c == "-" or c.startswith("- ")

    def block(ind):
        return seq(ind) if isseq(lines[pos[0]][1]) else mapping(ind)

    def seq(ind):
        out = []
        while pos[0] < len(lines) and lines[pos[0]][0] == ind and isseq(lines[pos[0]][1]):
            c = lines[pos[0]][1]
            rest = c[1:].lstrip(" ")
            if not rest:
                pos[0] += 1
                if pos[0] < len(lines) and lines[pos[0]][0] > ind:
                    out.append(block(lines[pos[0]][0]))
                else:
                    out.append(None)
            elif re.match(r"^(?:'[^']*'|\"[^\"]*\"|[^'\"\[{][^:]*):(\s|$)", rest):
                lines[pos[0]] = [ind + len(c) - len(rest), rest]
                out.append(mapping(lines[pos[0]][0]))
            else:
                out.append(_yaml_scalar(rest))
                pos[0] += 1
        return out

    def mapping(ind):
        out = {}
        while pos[0] < len(lines) and lines[pos[0]][0] == ind and not isseq(lines[pos[0]][1]):
            c = lines[pos[0]][1]
            m = re.match(r"^('[^']*'|\"[^\"]*\"|[^:]+?):(?:\s+(.*))?$", c)
            if not m:
                raise ValueError("yaml: cannot parse %r" % c)
            k = _yaml_scalar(m.group(1))
            v = m.group(2)
            pos[0] += 1
            if v is None or v == "":
                if pos[0] < len(lines) and (lines[pos[0]][0] > ind
                                            or (lines[pos[0]][0] == ind and isseq(lines[pos[0]][1]))):
                    out[k] = block(lines[pos[0]][0])
                else:
                    out[k] = None
            else:
                out[k] = _yaml_scalar(v)
        return out

    if not lines:
        return None
    r = block(lines[0][0])
    if pos[0] != len(lines):
        raise ValueError("yaml: unexpected %r" % lines[pos[0]][1])
    return r


def applies_to_latest(req):
    """suricata-verify `requires:`: skip checks written for older versions
    (lt-version) or one exact version."""
    if not isinstance(req, dict):
        return True
    return "lt-version" not in req and "version" not in req


# keys we can compare; others (email.status, email.url, body_md5, ...) are
# Suricata's own and ignored
SURI_SHARED = re.compile(r"^(smtp\.helo|smtp\.mail_from|smtp\.rcpt_to(\[\d+\])?|email\.from|email\.(to|cc)(\[\d+\])?"
                         r"|email\.subject|email\.attachment(\[\d+\])?|email\.message_id|email\.date|email\.x_mailer"
                         r"|email\.received(\[\d+\])?|email)$")
SURI_CTX = ("src_ip", "src_port", "dest_ip", "dest_port")


def suri_value(t, key):
    """(present, value) of a Suricata key computed from our transaction."""
    m = re.match(r"^(.*?)(?:\[(\d+)\])?$", key)
    base, idx = m.group(1), m.group(2)
    idx = int(idx) if idx is not None else None
    if base == "smtp.helo":
        v = t.get("helo")
        return v is not None, to_bytes(v)
    if base == "smtp.mail_from":
        v = t.get("mail_from")
        return v is not None, addr_norm(v)
    if base == "smtp.rcpt_to":
        lst = all_rcpts(t)
        if idx is None:
            return bool(lst), lst
        if t.get("rcpt_rejected"):
            # the order of accepted vs rejected RCPTs is not in our record:
            # compare by membership
            return idx < len(lst), ("member", frozenset(lst))
        return idx < len(lst), lst[idx] if idx < len(lst) else None
    if base == "email":
        return t.get("headers") is not None, None
    if t.get("headers") is None:
        return False, None
    if base == "email.from":
        a = hdr_addrs(t, "from")
        return bool(a), a
    if base in ("email.to", "email.cc"):
        a = hdr_addrs(t, base[6:])
        if idx is None:
            return bool(a), a
        return idx < len(a), a[idx] if idx < len(a) else None
    if base == "email.subject":
        v = hdr(t, "subject")
        return v is not None, to_bytes(v)
    if base == "email.attachment":
        a = [to_bytes(x.get("name")) for x in hdr(t, "attachments", []) if x.get("name") is not None]
        if idx is None:
            return bool(a), a
        return idx < len(a), a[idx] if idx < len(a) else None
    if base == "email.message_id":
        v = hdr(t, "message_id")
        return v is not None, ws_norm(to_bytes(v))
    if base == "email.date":
        v = hdr(t, "date")
        return v is not None, ws_norm(to_bytes(v))
    if base == "email.x_mailer":
        v = hdr(t, "user_agent")
        return v is not None, ws_norm(to_bytes(v))
    if base == "email.received":
        a = [re.sub(rb"\s+", b"", to_bytes(x)) for x in hdr(t, "received", [])]
        if idx is None:
            return bool(a), a
        return idx < len(a), a[idx] if idx < len(a) else None
    return False, None


def suri_expect(key, v):
    """Suricata's logged value -> our normalised form."""
    base = re.sub(r"\[\d+\]$", "", key)
    if v is None:
        return None
    v = str(v) if not isinstance(v, str) else v
    if base == "smtp.helo":
        return to_bytes(v)
    if base == "smtp.mail_from" or base == "smtp.rcpt_to":
        return addr_norm(v.split(" ")[0] if v.startswith("<") else v)
    if base == "email.from":
        return header_addrs(v)
    if base in ("email.to", "email.cc"):
        a = header_addrs(v)
        return a[0] if len(a) == 1 else v.lower()
    if base == "email.subject":
        return to_bytes(decode_2047(v))
    if base == "email.attachment":
        return to_bytes(v)
    if base in ("email.message_id", "email.date", "email.x_mailer"):
        return ws_norm(to_bytes(v))
    if base == "email.received":
        return re.sub(rb"\s+", b"", to_bytes(v))
    return v


def suri_match(t, conds, has, nothas, filename):
    """Does our transaction satisfy the filter?  -> (bool, [(key, ours, theirs)])"""
    diffs = []
    for k, want in conds:
        present, got = suri_value(t, k)
        if isinstance(got, tuple) and got and got[0] == "member":
            if want not in got[1]:
                diffs.append((k, sorted(got[1]), want))
        elif not present or got != want:
            diffs.append((k, got if present else None, want))
    for k in has:
        if not suri_value(t, k)[0]:
            diffs.append((k, None, "(has-key)"))
    for k in nothas:
        present, got = suri_value(t, k)
        if present:
            diffs.append((k, got, "(not-has-key)"))
    if filename is not None:
        names = [to_bytes(x.get("name")) for x in hdr(t, "attachments", [])]
        if to_bytes(filename) not in names:
            diffs.append(("fileinfo.filename", names, to_bytes(filename)))
    return not diffs, diffs


def suri_filters(root, rel, yaml_rel):
    """Comparable filters of one test.yaml -> (list of dicts, checks skipped
    as written for older Suricata versions)."""
    with open(os.path.join(root, yaml_rel), encoding="utf-8") as f:
        doc = parse_yaml(f.read()) or {}
    if not applies_to_latest(doc.get("requires")):
        return [], 0
    out, skipped = [], 0
    for n, chk in enumerate(doc.get("checks") or [], 1):
        flt = chk.get("filter") if isinstance(chk, dict) else None
        if not isinstance(flt, dict):
            continue
        m = flt.get("match") or {}
        if not applies_to_latest(flt.get("requires")):
            if any(SURI_SHARED.match(str(k)) for k in m):
                skipped += 1
            continue

        def keylist(v):
            if v is None:
                return []
            return [str(x) for x in (v if isinstance(v, list) else [v])]
        has = [k for k in keylist(m.get("has-key")) if SURI_SHARED.match(k)]
        nothas = [k for k in keylist(m.get("not-has-key")) if SURI_SHARED.match(k)]
        conds = [(str(k), v) for k, v in m.items() if SURI_SHARED.match(str(k)) and k != "email"]
        # Suricata-only record content (email.status, email.url, md5s, ...):
        # the filter then selects records by something we do not have, so its
        # count is not comparable, only "some record has these fields"
        unshared = [str(k) for k in m if re.match(r"^(smtp|email)\.", str(k)) and not SURI_SHARED.match(str(k))]
        et = m.get("event_type")
        filename = None
        if et == "fileinfo" and "fileinfo.filename" in m and (m.get("app_proto") in (None, "smtp")):
            filename = str(m["fileinfo.filename"])
        if not conds and not has and not nothas and filename is None:
            continue
        ctx = {k: m[k] for k in SURI_CTX if k in m}
        if "tx_id" in m and et == "smtp":
            ctx["tx_id"] = int(m["tx_id"])
        out.append({
            "yaml": os.path.basename(yaml_rel)[len(os.path.basename(rel)) + 1:],
            "check": n, "count": flt.get("count"), "event_type": et, "ctx": ctx,
            "conds": [(k, suri_expect(k, v)) for k, v in conds],
            "has": has, "nothas": nothas, "filename": filename, "unshared": unshared,
        })
    return out, skipped


def check_suricata(res, binary, root, rel, yamls):
    ours = run_smtpscope(binary, root, rel)
    filters, skipped = [], 0
    for y in yamls:
        try:
            f, s = suri_filters(root, rel, y)
        except (ValueError, OSError) as e:
            res.fail("suricata", rel, "%s: cannot read: %s" % (os.path.basename(y), e))
            continue
        filters += f
        skipped += s
    # the tests replaying one pcap repeat the same expectations: compare each
    # distinct one once
    seen = {}
    for flt in filters:
        exact = flt["event_type"] == "smtp" and not flt["unshared"]
        sig = ("smtp-exact" if exact else "exists", flt["count"] if exact else flt["count"] == 0,
               repr(sorted(flt["conds"], key=repr)), tuple(sorted(flt["has"])), tuple(sorted(flt["nothas"])),
               flt["filename"], repr(sorted(flt["ctx"].items(), key=repr)) if exact else repr(flt["ctx"].get("tx_id")))
        if sig in seen:
            seen[sig]["dups"] += 1
            continue
        flt["dups"] = 0
        seen[sig] = flt
    for flt in seen.values():
        suri_one(res, ours, rel, flt)
    if skipped and res.verbose:
        print("#    suricata %s: %d checks for older Suricata versions not compared" % (rel, skipped))


def suri_in_ctx(rec, ctx):
    c, s = endpoint(rec["client"]), endpoint(rec["server"])
    if "src_ip" in ctx and str(ctx["src_ip"]).lower() != c[0]:
        return False
    if "src_port" in ctx and int(ctx["src_port"]) != c[1]:
        return False
    if "dest_ip" in ctx and str(ctx["dest_ip"]).lower() != s[0]:
        return False
    if "dest_port" in ctx and int(ctx["dest_port"]) != s[1]:
        return False
    if "tx_id" in ctx and rec.get("type") == "transaction" and rec["txn"] != ctx["tx_id"] + 1:
        return False
    return True


def suri_one(res, ours, rel, flt):
    """One filter: count our records that satisfy it.

    event_type smtp, only shared keys: the count must be equal (Suricata
    logs one smtp record per transaction, as we do).  Otherwise (alert,
    fileinfo, or Suricata-only keys in the filter): count >= 1 needs at
    least one matching transaction; count 0 is not comparable (rules, file
    logging) and skipped.  tx_id T selects our transaction T+1 of the flow:
    Suricata >= 8.0.7 numbers transactions as we do."""
    where = "check %s#%d" % (flt["yaml"], flt["check"])
    fields = [k for k, _ in flt["conds"]] + ["has-key " + k for k in flt["has"]] + \
        ["not-has-key " + k for k in flt["nothas"]] + (["fileinfo.filename"] if flt["filename"] else [])
    et = flt["event_type"] or "any"
    exact = et == "smtp" and not flt["unshared"] and flt["count"] is not None
    cnt = flt["count"]
    if not exact and cnt == 0:
        return
    group = "%s%s count=%s%s%s" % (et, " tx_id=%d" % flt["ctx"]["tx_id"] if "tx_id" in flt["ctx"] else "",
                                   cnt, "" if exact else " (>=1)", " +%d dup" % flt["dups"] if flt["dups"] else "")
    txns = [t for t in ours.txns if suri_in_ctx(t, flt["ctx"])]
    results = [(t,) + suri_match(t, flt["conds"], flt["has"], flt["nothas"], flt["filename"]) for t in txns]
    n = sum(1 for _, ok, _ in results if ok)
    # A filter on HELO alone: Suricata (>= 8.0.7) logs a transaction for a
    # session that had HELO/EHLO but no MAIL; we log that as a session record
    # without transactions.  Count those sessions too.
    helo_only = all(k == "smtp.helo" for k, _ in flt["conds"]) and not flt["has"] and not flt["filename"]
    via_session = 0
    if helo_only and flt["ctx"].get("tx_id", 0) == 0:
        want = dict(flt["conds"]).get("smtp.helo")
        for s in ours.sessions:
            if s.get("transactions") == 0 and suri_in_ctx(s, flt["ctx"]) and \
                    (want is None or to_bytes(s.get("helo")) == want):
                via_session += 1
        n += via_session
    good = n == cnt if exact else n >= 1
    if via_session:
        fields = fields + ["(helo-only transaction = our session record without transactions)"]
    if good:
        res.report("suricata", rel, where, group, fields, [])
        return
    diffs = [("count", n, cnt if exact else ">=1")]
    if n < (cnt if exact else 1):
        # show the fields of the closest transaction (of the session records
        # for a HELO-only filter)
        cands = [(r[0], r[2]) for r in results]
        if helo_only:
            want = dict(flt["conds"]).get("smtp.helo")
            for s in ours.sessions:
                if suri_in_ctx(s, flt["ctx"]) and to_bytes(s.get("helo")) != want:
                    cands.append((s, [("smtp.helo", to_bytes(s.get("helo")), want)]))
        if cands:
            rec, d = min(cands, key=lambda r: len(r[1]))
            if rec.get("type") == "transaction":
                where += " ~ session %d txn %d" % (rec["session"], rec["txn"])
            else:
                where += " ~ session %d (session record)" % rec["session"]
            if d:
                # the fields that keep the closest record from matching
                # (the count follows from them)
                diffs = d
        else:
            where += " ~ (no transaction on this connection)"
    res.report("suricata", rel, where, group, fields, diffs, key_where="check %s#%d" % (flt["yaml"], flt["check"]))


# ---------------------------------------------------------------------------
# Arkime
# ---------------------------------------------------------------------------

ARKIME_ENVELOPE = ["src", "dst", "smtpHello", "user"]
ARKIME_HEADERS = ["subject", "useragent", "filename", "id"]


def check_arkime(res, binary, root, rel, base):
    ours = run_smtpscope(binary, root, rel)
    with open(os.path.join(root, base), encoding="utf-8") as f:
        doc = json.load(f)
    seen_sessions = set()
    for s in doc.get("sessions3", []):
        b = s.get("body", {})
        protos = b.get("protocol") or []
        if not b.get("packetPos"):
            # Arkime also writes an empty document (no packets, no fields)
            # for a 4-tuple it already has a session for
            continue
        client = (str(b.get("source", {}).get("ip", "")).lower(), int(b.get("source", {}).get("port", 0)))
        server = (str(b.get("destination", {}).get("ip", "")).lower(), int(b.get("destination", {}).get("port", 0)))
        sess = ours.conn_sessions(client, server)
        if "smtp" not in protos:
            for o in sess:
                if o["session"] not in seen_sessions and (o.get("commands") or o.get("transactions")):
                    seen_sessions.add(o["session"])
                    res.report("arkime", rel, "session %s:%d" % client, "record", ["record"],
                               [("record", "SMTP session %d (%d commands)" % (o["session"], o.get("commands", 0)),
                                 "not classified smtp (protocol %s)" % protos)])
            continue
        where = "session %s:%d" % client
        # Arkime may list the same 4-tuple twice (port reuse); pair in order
        sess = [o for o in sess if o["session"] not in seen_sessions]
        if not sess:
            res.report("arkime", rel, where, "record", ["record"],
                       [("record", "no session", "smtp session -> %s:%d" % server)])
            continue
        o = sess[0]
        seen_sessions.add(o["session"])
        txns = [t for t in ours.txns if t["session"] == o["session"]]
        e = b.get("email") or {}

        def aset(key, lower=False):
            v = e.get(key) or []
            return frozenset((x.lower() if lower else x) for x in v)
        # envelope
        d = []
        o_src = set()
        o_dst = set()
        o_helo = set()
        for t in txns:
            if t.get("mail_from") is not None:
                o_src.add(addr_norm(t["mail_from"]))
            o_src.update(hdr_addrs(t, "from"))
            o_dst.update(all_rcpts(t))
            o_dst.update(hdr_addrs(t, "to"))
            o_dst.update(hdr_addrs(t, "cc"))
            if t.get("helo") is not None:
                o_helo.add(t["helo"].lower())
        if o.get("helo") is not None:
            o_helo.add(o["helo"].lower())
        cmp_field(d, "src", frozenset(o_src), aset("src", True))
        cmp_field(d, "dst", frozenset(o_dst), aset("dst", True))
        cmp_field(d, "smtpHello", frozenset(o_helo), aset("smtpHello", True))  # a "lotermfield"
        users = set()
        for a in o.get("auth") or []:
            if a.get("username"):
                users.add(a["username"].lower())
        cmp_field(d, "user", frozenset(users), frozenset(x.lower() for x in b.get("user") or []))
        res.report("arkime", rel, where + " = session %d" % o["session"], "envelope", ARKIME_ENVELOPE, d, where)
        # headers
        d = []
        subj, ua, fn, mid = set(), set(), set(), set()
        for t in txns:
            if hdr(t, "subject") is not None:
                subj.add(strip(hdr(t, "subject")))
            if hdr(t, "user_agent") is not None:
                ua.add(hdr(t, "user_agent"))
            for a in hdr(t, "attachments", []):
                if a.get("name"):
                    fn.add(a["name"])
            if hdr(t, "message_id") is not None:
                m = hdr(t, "message_id").strip()
                mid.add(m[1:m.index(">")] if m.startswith("<") and ">" in m else m)
        cmp_field(d, "subject", frozenset(subj), frozenset(strip(x) for x in aset("subject")))
        cmp_field(d, "useragent", frozenset(ua), aset("useragent"))
        cmp_field(d, "filename", frozenset(fn), aset("filename"))
        cmp_field(d, "id", frozenset(mid), aset("id"))
        res.report("arkime", rel, where + " = session %d" % o["session"], "headers", ARKIME_HEADERS, d, where)
    for o in ours.sessions:
        if o["session"] not in seen_sessions and (o.get("transactions") or o.get("commands")):
            res.report("arkime", rel, "session %s" % o["client"], "record", ["record"],
                       [("record", "SMTP session %d" % o["session"], "no session document")])


# ---------------------------------------------------------------------------

def find_baselines(root):
    """{capture rel path: {"zeek": [...], "suricata": [...], "arkime": [...]}}"""
    out = {}
    for d, _dirs, files in os.walk(root):
        for fn in files:
            rel = os.path.relpath(os.path.join(d, fn), root)
            m = re.match(r"^(.*\.(?:pcap|pcapng))\.(zeek-smtp(?:\.[^/]*)?\.log|suricata-test(?:\.[^/]*)?\.yaml|arkime-test\.json)$",
                         rel)
            if not m:
                continue
            cap, kind = m.group(1), m.group(2)
            src = "zeek" if kind.startswith("zeek") else "suricata" if kind.startswith("suricata") else "arkime"
            out.setdefault(cap, {}).setdefault(src, []).append(rel)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smtpscope", default=os.environ.get("SMTPSCOPE", "./smtpscope"))
    ap.add_argument("--root", default=os.environ.get("SMTPSCOPE_PUBLIC_CAPTURES"))
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("only", nargs="*")
    args = ap.parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    root = args.root
    if not root:
        for c in ("../shared/captures/public", "/work/shared/captures/public"):
            if os.path.isdir(c):
                root = c
                break
    if not root or not os.path.isdir(root):
        print("FAIL public capture corpus not found (set SMTPSCOPE_PUBLIC_CAPTURES)")
        print("0 passed, 1 failed")
        return 1
    if not (os.path.isfile(args.smtpscope) and os.access(args.smtpscope, os.X_OK)):
        print("FAIL %s not found or not executable: run 'make' first" % args.smtpscope)
        print("0 passed, 1 failed")
        return 1
    res = Results(args.verbose)
    base = find_baselines(root)
    for cap in sorted(base):
        if args.only and not any(o in cap for o in args.only):
            continue
        if not os.path.exists(os.path.join(root, cap)):
            res.fail("-", cap, "capture missing beside its baseline")
            continue
        o = run_smtpscope(args.smtpscope, root, cap)
        if o.rc not in (0, 2):
            res.fail("-", cap, "smtpscope exit %d: %s" % (o.rc, o.err[:300]))
            continue
        for z in sorted(base[cap].get("zeek", [])):
            check_zeek(res, args.smtpscope, root, cap, z)
        if base[cap].get("suricata"):
            check_suricata(res, args.smtpscope, root, cap, sorted(base[cap]["suricata"]))
        for a in sorted(base[cap].get("arkime", [])):
            check_arkime(res, args.smtpscope, root, cap, a)
    if not args.only:
        for key in sorted(set(EXPECTED_DIFFERENCES) - res.used):
            res.fail(key[0], key[1], "stale EXPECTED_DIFFERENCES entry %s %s: the difference no longer occurs; "
                     "remove it (and its docs/baselines.md line)" % (key[2], key[3]))
    for src in sorted(res.by_source):
        p, f, e = res.by_source[src]
        print("# %s: %d ok, %d FAIL, %d expected-diff" % (src, p, f, e))
    print("%d passed, %d failed, %d expected differences" % (res.passed, res.failed, res.expected))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
