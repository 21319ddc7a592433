#!/usr/bin/python3
"""check.py — smtpscope against the tshark expectations of TLS lab captures.

    check.py [--smtpscope BIN] [--args "EXTRA ARGS"] EXPECT.json...
    check.py --live JSON EXPECT.json...   the records of a live run, with keys

For each NAME.expect.json (tests/tls/make_expect.py, format in tests/tls/README.md)
it runs, next to the capture,

  smtpscope -r CAPTURE --json=-                       (skipped when the secrets are in the capture)
  smtpscope -r CAPTURE --json=- --tls-keylog KEYLOG   (without --tls-keylog for a pcapng with secrets)
  smtpscope -r CAPTURE --json=- --tls-keylog WRONG    (each wrong key log of the expectation)

and compares the session and transaction records (docs/schema.md, the TLS
fields of the session record) with the expectation. One "ok"/"FAIL" line per
check; exit status 1 when one failed.
"""

import json
import os
import shlex
import subprocess
import sys

RES = []


def ok(name, cond, detail=""):
    RES.append(bool(cond))
    print(("ok   " if cond else "FAIL ") + name + ("" if cond or not detail else "  [%s]" % detail))


def run(bin_, capture, extra):
    cmd = [bin_, "-r", capture, "--json=-"] + extra
    r = subprocess.run(cmd, capture_output=True, timeout=120)
    recs = []
    bad = 0
    for line in r.stdout.decode("utf-8", "surrogateescape").splitlines():
        if line.strip():
            try:
                recs.append(json.loads(line))
            except ValueError:
                bad += 1
    return r, recs, bad


def show(v):
    s = json.dumps(v, sort_keys=True)
    return s if len(s) < 300 else s[:300] + "..."


def eq(tag, key, got, want):
    ok("%s: %s = %s" % (tag, key, show(want)), got == want, "got %s" % show(got))


def tls_fields(tag, s, tls, cert_expected):
    """the TLS handshake fields of the session record (/tmp/tls_schema.md)"""
    for k in ("tls_version", "tls_cipher", "tls_sni", "tls_group", "tls_alpn", "tls_client_alpn",
              "tls_client_versions", "ja4", "ja4s", "tls_records", "tls_hello_retry"):
        if k in tls:
            eq(tag, k, s.get(k), tls[k])
        elif k in ("tls_group", "tls_alpn", "tls_client_alpn", "tls_hello_retry", "tls_client_versions", "tls_sni"):
            ok("%s: no %s (none on the wire)" % (tag, k), k not in s, "got %s" % show(s.get(k)))
    cert_fields(tag, s, cert_expected)


def cert_fields(tag, s, exp):
    if not exp:
        ok("%s: no tls_server_cert (the certificate is encrypted)" % tag, "tls_server_cert" not in s,
           "got %s" % show(s.get("tls_server_cert")))
        return
    eq(tag, "tls_chain_len", s.get("tls_chain_len"), exp["tls_chain_len"])
    c = s.get("tls_server_cert")
    ok("%s: tls_server_cert present" % tag, isinstance(c, dict), "got %s" % show(c))
    c = c if isinstance(c, dict) else {}
    want = exp["tls_server_cert"]
    for k in ("subject", "issuer", "san_dns", "not_before", "not_after", "key_type", "key_bits", "sig_alg",
              "sha256", "self_signed"):
        eq(tag, "tls_server_cert." + k, c.get(k), want[k])
    got_serial = c.get("serial")
    norm = got_serial.upper().lstrip("0") if isinstance(got_serial, str) else got_serial
    ok("%s: tls_server_cert.serial = %s (hex, leading zeros aside)" % (tag, want["serial"]), norm == want["serial"],
       "got %s" % show(got_serial))


def one_session(tag, recs, exp):
    sess = [r for r in recs if r.get("type") == "session"]
    ok("%s: exactly one session record" % tag, len(sess) == 1, "got %d" % len(sess))
    if not sess:
        return None
    s = sess[0]
    eq(tag, "client", s.get("client"), exp["session"]["client"])
    eq(tag, "server", s.get("server"), exp["session"]["server"])
    eq(tag, "tls", s.get("tls"), True)
    return s


def secrets_absent(tag, out, exp):
    for pw in exp["inside"]["secrets"]:
        ok("%s: the password is not in the output" % tag, pw.encode() not in out)


def nothing_inside(tag, s, recs, exp):
    txns = [r for r in recs if r.get("type") == "transaction"]
    ok("%s: no transaction record (MAIL/RCPT/DATA are inside TLS)" % tag, not txns, "got %d" % len(txns))
    eq(tag, "transactions", s.get("transactions"), 0)
    eq(tag, "auth", s.get("auth"), [])
    eq(tag, "auth_attempts", s.get("auth_attempts"), 0)
    eq(tag, "commands (the cleartext ones)", s.get("commands"), exp["outside"]["commands"])
    eq(tag, "helo (the cleartext EHLO)", s.get("helo"), exp["outside"]["helo"])
    eq(tag, "tls_decrypted", s.get("tls_decrypted"), False)


def check_nokeys(bin_, d, exp, extra):
    tag = "%s (no keys)" % exp["capture"]
    r, recs, bad = run(bin_, os.path.join(d, exp["capture"]), extra)
    ok("%s: smtpscope exits 0 with valid JSON Lines" % tag, r.returncode == 0 and not bad,
       "exit %d, %d bad lines, stderr %s" % (r.returncode, bad, r.stderr.decode(errors="replace")[:200]))
    s = one_session(tag, recs, exp)
    if s is None:
        return
    tls_fields(tag, s, exp["tls"], exp["tls"] if exp["cert_in_clear"] else None)
    eq(tag, "tls_keys", s.get("tls_keys"), "none")
    nothing_inside(tag, s, recs, exp)
    secrets_absent(tag, r.stdout, exp)


def check_keys(bin_, d, exp, extra):
    dsb = exp["secrets_in_capture"]
    tag = "%s (%s)" % (exp["capture"], "secrets in the pcapng" if dsb else "--tls-keylog " + exp["keylog"])
    args = extra + ([] if dsb else ["--tls-keylog", os.path.join(d, exp["keylog"])])
    r, recs, bad = run(bin_, os.path.join(d, exp["capture"]), args)
    ok("%s: smtpscope exits 0 with valid JSON Lines" % tag, r.returncode == 0 and not bad,
       "exit %d, %d bad lines, stderr %s" % (r.returncode, bad, r.stderr.decode(errors="replace")[:200]))
    check_keyed_records(tag, r.stdout, recs, exp)


def check_live(path, exp):
    """the records of a live run (smtpscope -i lo --tls-keylog ...) that belong to this session"""
    tag = "%s (live -i lo, key log read while it grows)" % exp["capture"]
    try:
        raw = open(path, "rb").read()
    except OSError as e:
        ok("%s: the live JSON output exists" % tag, False, str(e))
        return
    recs = []
    bad = 0
    for line in raw.decode("utf-8", "surrogateescape").splitlines():
        if line.strip():
            try:
                recs.append(json.loads(line))
            except ValueError:
                bad += 1
    ok("%s: valid JSON Lines" % tag, raw and not bad, "%d bytes, %d bad lines" % (len(raw), bad))
    mine = [r for r in recs if r.get("client") == exp["session"]["client"]]
    check_keyed_records(tag, raw, mine, exp)


def check_keyed_records(tag, out, recs, exp):
    s = one_session(tag, recs, exp)
    if s is None:
        return
    for k in ("tls_version", "tls_cipher", "tls_sni", "ja4", "ja4s"):
        if k in exp["tls"]:
            eq(tag, k, s.get(k), exp["tls"][k])
    cert_fields(tag, s, exp["tls"] if exp["cert_in_clear"] else exp.get("tls_decrypted_only"))
    eq(tag, "tls_keys", s.get("tls_keys"), "ok")
    eq(tag, "tls_decrypted", s.get("tls_decrypted"), True)
    ins = exp["inside"]
    eq(tag, "helo (the EHLO inside TLS)", s.get("helo"), ins["helo"])
    eq(tag, "commands", s.get("commands"), ins["commands"])
    got_auth = [{k: a.get(k) for k in ("mechanism", "username", "result", "reply")} for a in s.get("auth") or []]
    eq(tag, "auth", got_auth, ins["auth"])
    anoms = s.get("anomalies") or []
    ok("%s: no tls_decrypt_failed anomaly" % tag, "tls_decrypt_failed" not in anoms, "got %s" % show(anoms))
    txns = [t for t in recs if t.get("type") == "transaction"]
    eq(tag, "transaction records", len(txns), len(ins["transactions"]))
    eq(tag, "transactions", s.get("transactions"), len(ins["transactions"]))
    for i, want in enumerate(ins["transactions"]):
        t = txns[i] if i < len(txns) else {}
        tt = "%s: transaction %d" % (tag, i + 1)
        eq(tt, "mail_from", t.get("mail_from"), want["mail_from"])
        eq(tt, "rcpt_to", t.get("rcpt_to"), want["rcpt_to"])
        h = t.get("headers") or {}
        eq(tt, "headers.from", [a.get("address") for a in h.get("from") or []], want["header_from"])
        eq(tt, "headers.subject", h.get("subject"), want["subject"])
        eq(tt, "final_reply", t.get("final_reply"), want["final_reply"])
        eq(tt, "tls", t.get("tls"), True)
        ids = [f.get("id") for f in t.get("findings") or []]
        ok("%s: no cleartext_auth finding (the AUTH was inside TLS)" % tt, "cleartext_auth" not in ids,
           "got %s" % ids)
    ids = [f.get("id") for f in s.get("findings") or []]
    ok("%s: no session cleartext_auth finding" % tag, "cleartext_auth" not in ids, "got %s" % ids)
    secrets_absent(tag, out, exp)


def check_wrong(bin_, d, exp, w, extra):
    tag = "%s (wrong key log %s)" % (exp["capture"], w["keylog"])
    r, recs, bad = run(bin_, os.path.join(d, exp["capture"]), extra + ["--tls-keylog", os.path.join(d, w["keylog"])])
    ok("%s: smtpscope exits 0 with valid JSON Lines" % tag, r.returncode == 0 and not bad,
       "exit %d, %d bad lines, stderr %s" % (r.returncode, bad, r.stderr.decode(errors="replace")[:200]))
    s = one_session(tag, recs, exp)
    if s is None:
        return
    for k in ("tls_version", "tls_cipher", "tls_sni"):
        eq(tag, k, s.get(k), exp["tls"].get(k))
    ok("%s: tls_keys in %s" % (tag, w["tls_keys"]), s.get("tls_keys") in w["tls_keys"],
       "got %s" % show(s.get("tls_keys")))
    anoms = s.get("anomalies") or []
    for a in w["anomalies"]:
        ok("%s: anomaly %s" % (tag, a), a in anoms, "got %s" % show(anoms))
    nothing_inside(tag, s, recs, exp)
    secrets_absent(tag, r.stdout, exp)


def main():
    a = sys.argv[1:]
    bin_ = os.environ.get("SMTPSCOPE", "./smtpscope")
    extra = []
    files = []
    live = None
    i = 0
    while i < len(a):
        if a[i] == "--smtpscope":
            bin_ = a[i + 1]
            i += 1
        elif a[i] == "--live":
            live = a[i + 1]
            i += 1
        elif a[i] == "--args":
            extra = shlex.split(a[i + 1])
            i += 1
        else:
            files.append(a[i])
        i += 1
    for f in files:
        exp = json.load(open(f))
        d = os.path.dirname(os.path.abspath(f))
        if live:
            check_live(live, exp)
            continue
        if not exp["secrets_in_capture"]:
            check_nokeys(bin_, d, exp, extra)
        check_keys(bin_, d, exp, extra)
        for w in exp.get("wrong_keys", []):
            check_wrong(bin_, d, exp, w, extra)
    sys.exit(0 if all(RES) else 1)


if __name__ == "__main__":
    main()
