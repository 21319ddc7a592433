#!/usr/bin/python3
"""make_expect.py — what a TLS lab capture must show, taken from tshark.

    make_expect.py DIR NAME [--capture FILE] [--keylog FILE|none] [--wrong KEYLOG:STATUS[:ANOMALY]]...

reads DIR/NAME.meta.json (the generator's known inputs, scripts/tls_lab.py) and
the capture (DIR/NAME.pcap unless --capture) with its key log (DIR/NAME.keys
unless --keylog; "none" for a pcapng that carries its secrets in a Decryption
Secrets Block), runs tshark twice (without keys, with keys) and writes
DIR/<capture basename>.expect.json (format: tests/tls/README.md).

Everything on the TLS and SMTP side comes from tshark's dissection (PDML);
the certificate's RFC 2253 names, key type and size are read by `openssl x509`
from the DER bytes tshark extracted (and the subject is cross-checked against
tshark's own rendering); JA4/JA4S are computed here from tshark's ClientHello /
ServerHello fields following FoxIO's published specification. Only what tshark
cannot know (the password, that a certificate is self-signed by construction)
comes from the generator's inputs. smtpscope is never run.
"""

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

TSHARK = os.environ.get("TSHARK", "tshark")


def tshark_pdml(capture, keylog, decode_as):
    cmd = [TSHARK, "-r", capture, "-n", "-T", "pdml", "-o", "tls.keylog_file:" + (keylog or "")]
    for d in decode_as:
        cmd += ["-d", d]
    r = subprocess.run(cmd, capture_output=True)
    if r.returncode:
        sys.exit("make_expect: tshark failed: %s" % r.stderr.decode(errors="replace"))
    return ET.fromstring(r.stdout)


def walk(el):
    """fields in document order"""
    for f in el.iter("field"):
        yield f


def after_colon(showname):
    return showname.split(": ", 1)[1] if ": " in showname else showname


def strip_code(s):
    """'TLS 1.2 (0x0303)' -> 'TLS 1.2'; 'x25519 (29)' -> 'x25519'"""
    return re.sub(r" \((0x[0-9a-fA-F]+|\d+)\)$", "", s)


def x509_time(s):
    """'2026-01-01 00:00:00 (UTC)' -> '2026-01-01T00:00:00Z'"""
    m = re.match(r"(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)", s)
    return "%sT%sZ" % m.groups() if m else s


RDN_SHORT = {"id-at-commonName": "CN", "id-at-organizationName": "O", "id-at-countryName": "C",
             "id-at-organizationalUnitName": "OU", "id-at-localityName": "L", "id-at-stateOrProvinceName": "ST"}


def tshark_rdn(showname):
    """tshark's 'rdnSequence: 2 items (id-at-commonName=a,id-at-organizationName=b)' as RFC 2253 text"""
    m = re.search(r"\((.*)\)$", showname)
    parts = m.group(1).split(",") if m else []
    out = []
    for p in parts:
        k, _, v = p.partition("=")
        out.append("%s=%s" % (RDN_SHORT.get(k, k), v))
    return ",".join(out)


def openssl_cert(der):
    def q(*a):
        return subprocess.run(["openssl", "x509", "-inform", "DER", "-noout"] + list(a), input=der,
                              capture_output=True, check=True).stdout.decode()
    subj = q("-nameopt", "RFC2253", "-subject").strip().split("=", 1)[1]
    issuer = q("-nameopt", "RFC2253", "-issuer").strip().split("=", 1)[1]
    text = q("-text")
    alg = re.search(r"Public Key Algorithm: (\S+)", text).group(1)
    bits = int(re.search(r"Public-Key: \((\d+) bit\)", text).group(1))
    key_type = {"rsaEncryption": "RSA", "id-ecPublicKey": "EC", "ED25519": "Ed25519", "ED448": "Ed448",
                "rsassaPss": "RSA-PSS", "dsaEncryption": "DSA"}.get(alg, alg)
    return subj, issuer, key_type, bits


def parse_cert(cf):
    """one tls.handshake.certificate field (with its x509 children)"""
    der = bytes.fromhex(cf.get("value"))
    kids = list(walk(cf))
    times = [x509_time(after_colon(f.get("showname"))) for f in kids
             if f.get("name") in ("x509af.utcTime", "x509af.generalizedTime")]
    serial = after_colon(next(f.get("showname") for f in kids if f.get("name") == "x509af.serialNumber"))
    serial = serial[2:] if serial.lower().startswith("0x") else "%X" % int(serial)
    serial = serial.lstrip("0") or "0"
    sig = next(f for f in kids if f.get("name") == "x509af.signature_element").get("showname")
    sig_alg = re.search(r"\((.*)\)", sig).group(1)
    subj_t = next(f for f in kids if f.get("name") == "x509af.rdnSequence").get("showname")
    issuer_t = next(f for f in kids if f.get("name") == "x509if.rdnSequence").get("showname")
    subj, issuer, key_type, bits = openssl_cert(der)
    if tshark_rdn(subj_t) != subj or tshark_rdn(issuer_t) != issuer:
        sys.exit("make_expect: tshark and openssl disagree on the names: %r/%r vs %r/%r"
                 % (tshark_rdn(subj_t), tshark_rdn(issuer_t), subj, issuer))
    return {
        "subject": subj,
        "issuer": issuer,
        "san_dns": [f.get("show") for f in kids if f.get("name") == "x509ce.dNSName"],
        "not_before": times[0],
        "not_after": times[1],
        "serial": serial.upper(),
        "key_type": key_type,
        "key_bits": bits,
        "sig_alg": sig_alg,
        "sha256": hashlib.sha256(der).hexdigest(),
    }


def hexval(f):
    v = f.get("show")
    return int(v, 16) if v.startswith("0x") else int(v)


GREASE = {0x0a0a + 0x1010 * i for i in range(16)}
JA4_VER = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
           0xfeff: "d1", 0xfefd: "d2", 0xfefc: "d3"}


def sha12(s):
    return hashlib.sha256(s.encode()).hexdigest()[:12] if s else "000000000000"


def alpn_chars(alpn):
    if not alpn:
        return "00"
    a = alpn[0]
    if not (a[0].isascii() and a[0].isalnum() and a[-1].isascii() and a[-1].isalnum()):
        h = a.encode().hex()
        return h[0] + h[-1]
    return a[0] + a[-1]


def ja4(h):
    """FoxIO JA4 (technical_details/JA4.md) of a ClientHello given as tshark fields"""
    ciphers = [c for c in h["suites"] if c not in GREASE]
    exts = [e for e in h["exts"] if e not in GREASE]
    vers = [v for v in h["versions"] if v not in GREASE]
    ver = JA4_VER.get(max(vers) if vers else h["legacy_version"], "00")
    sni = "d" if 0 in exts else "i"
    a = "t%s%s%02d%02d%s" % (ver, sni, min(len(ciphers), 99), min(len(exts), 99), alpn_chars(h["alpn"]))
    b = sha12(",".join("%04x" % c for c in sorted(ciphers)))
    es = ",".join("%04x" % e for e in sorted(e for e in exts if e not in (0x0000, 0x0010)))
    if h["sigalgs"]:
        es += "_" + ",".join("%04x" % s for s in h["sigalgs"])
    return "%s_%s_%s" % (a, b, sha12(es) if exts else "000000000000")


def ja4s(h):
    """FoxIO JA4S (technical_details/JA4S.md) of a ServerHello given as tshark fields"""
    ver = JA4_VER.get(h["versions"][0] if h["versions"] else h["legacy_version"], "00")
    exts = h["exts"]
    a = "t%s%02d%s" % (ver, min(len(exts), 99), alpn_chars(h["alpn"]))
    return "%s_%04x_%s" % (a, h["suites"][0], sha12(",".join("%04x" % e for e in exts)))


def hello(hs):
    """a tls.handshake field of a ClientHello/ServerHello -> its lists (in wire order)"""
    h = {"suites": [], "exts": [], "versions": [], "sigalgs": [], "alpn": [], "sni": None, "legacy_version": 0,
         "version_names": [], "suite_names": [], "group": None}
    for f in walk(hs):
        n, sn = f.get("name"), f.get("showname") or ""
        if n == "tls.handshake.version":
            h["legacy_version"] = hexval(f)
        elif n == "tls.handshake.ciphersuite":
            h["suites"].append(hexval(f))
            h["suite_names"].append(strip_code(after_colon(sn)))
        elif n == "tls.handshake.extension.type":
            h["exts"].append(int(f.get("show")))
        elif n == "tls.handshake.extensions.supported_version":
            h["versions"].append(hexval(f))
            h["version_names"].append(strip_code(after_colon(sn)))
        elif n == "tls.handshake.sig_hash_alg":
            h["sigalgs"].append(hexval(f))
        elif n == "tls.handshake.extensions_alpn_str":
            h["alpn"].append(f.get("show"))
        elif n == "tls.handshake.extensions_server_name":
            h["sni"] = f.get("show")
        elif n == "tls.handshake.extensions_key_share_group" and h["group"] is None:
            h["group"] = strip_code(after_colon(sn))
    return h


def dissect(root, server_port):
    """one pass over the PDML: the TLS handshake facts and the SMTP dialogue in order"""
    tls = {"client": None, "server": None, "certs": None, "records": [0, 0], "hello_retry": False}
    ev = []  # ("cmd", dir, line) ("user", b64) ("rsp", code) ("imf", {...}) ("tls_start",)
    endpoints = None
    for pkt in root.iter("packet"):
        sport = dport = None
        src = None
        for f in walk(pkt):
            n = f.get("name")
            if n == "tcp.srcport":
                sport = int(f.get("show"))
            elif n == "tcp.dstport":
                dport = int(f.get("show"))
            elif n == "ip.src":
                src = f.get("show")
            if sport is not None and dport is not None and src is not None:
                break
        if sport is None:
            continue
        d = 1 if sport == server_port else 0
        if endpoints is None:
            endpoints = ("%s:%d" % (src, sport if d == 0 else dport), "%s:%d" % (src, server_port))
        for proto in pkt.iter("proto"):
            pn = proto.get("name")
            if pn == "tls":
                for rec in proto.iter("field"):
                    if rec.get("name") == "tls.record":
                        tls["records"][d] += 1
                for hs in proto.iter("field"):
                    if hs.get("name") != "tls.handshake":
                        continue
                    t = next((int(f.get("show")) for f in hs.iter("field") if f.get("name") == "tls.handshake.type"),
                             None)
                    if t == 1:
                        tls["client"] = hello(hs)
                    elif t == 2:
                        h = hello(hs)
                        rnd = next((f.get("show") for f in hs.iter("field")
                                    if f.get("name") == "tls.handshake.random"), "")
                        if rnd.replace(":", "").lower().startswith("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"):
                            tls["hello_retry"] = True
                        else:
                            tls["server"] = h
                    elif t == 11 and tls["certs"] is None:
                        tls["certs"] = [parse_cert(c) for c in hs.iter("field")
                                        if c.get("name") == "tls.handshake.certificate"]
            elif pn == "smtp":
                for f in walk(proto):
                    n = f.get("name")
                    if n == "smtp.command_line":
                        ev.append(("cmd", f.get("show").rstrip()))
                    elif n in ("smtp.auth.username", "smtp.auth.username_password"):
                        ev.append(("user", f.get("show")))
                    elif n == "smtp.response.code":
                        ev.append(("rsp", int(f.get("show"))))
            elif pn == "imf":
                m = {"from": [], "subject": None}
                for f in walk(proto):
                    n = f.get("name")
                    if n == "imf.from":
                        m["from"] = [a.get("show") for a in f.iter("field") if a.get("name") == "imf.address"]
                    elif n == "imf.subject":
                        m["subject"] = f.get("show")
                ev.append(("imf", m))
    return tls, ev, endpoints


def collapse_replies(ev):
    """a multi-line reply is one reply: drop repeated rsp events in a row with the same code"""
    out = []
    for e in ev:
        if e[0] == "rsp" and out and out[-1][0] == "rsp" and out[-1][1] == e[1]:
            continue
        out.append(e)
    return out


def smtp_dialogue(ev):
    """commands, AUTH attempts, transactions of an event list"""
    ev = collapse_replies(ev)
    cmds, auths, txns = [], [], []
    helo = None
    i = 0
    while i < len(ev):
        e = ev[i]
        if e[0] == "cmd":
            line = e[1]
            verb, _, arg = line.partition(" ")
            V = verb.upper()
            cmds.append(line)
            if V in ("EHLO", "HELO"):
                helo = arg
            elif V == "AUTH":
                mech, _, ir = arg.partition(" ")
                user = None
                j = i + 1
                user_b64 = None
                if mech.upper() == "PLAIN" and ir:
                    user = base64.b64decode(ir).split(b"\0")[1].decode()
                elif mech.upper() == "LOGIN" and ir:
                    user = base64.b64decode(ir).decode()
                reply = None
                while j < len(ev):
                    if ev[j][0] == "user" and user is None and user_b64 is None:
                        user_b64 = ev[j][1]
                    elif ev[j][0] == "rsp" and ev[j][1] != 334:
                        reply = ev[j][1]
                        break
                    elif ev[j][0] == "cmd":
                        break
                    j += 1
                if user is None and user_b64:
                    raw = base64.b64decode(user_b64)
                    user = raw.split(b"\0")[1].decode() if mech.upper() == "PLAIN" else raw.decode()
                auths.append({"mechanism": mech.upper(), "username": user,
                              "result": "success" if reply == 235 else ("failure" if reply and reply >= 400 else
                                                                        "unknown"),
                              "reply": reply})
            elif V == "MAIL":
                m = re.match(r"(?i)FROM:<([^>]*)>", arg)
                txns.append({"mail_from": m.group(1) if m else None, "rcpt_to": [], "header_from": None,
                             "subject": None, "final_reply": None})
            elif V == "RCPT" and txns:
                m = re.match(r"(?i)TO:<([^>]*)>", arg)
                nxt = next((x for x in ev[i + 1:] if x[0] == "rsp"), None)
                if m and nxt and 200 <= nxt[1] < 300:
                    txns[-1]["rcpt_to"].append(m.group(1))
        elif e[0] == "imf" and txns:
            txns[-1]["header_from"] = e[1]["from"]
            txns[-1]["subject"] = e[1]["subject"]
            nxt = next((x for x in ev[i + 1:] if x[0] == "rsp"), None)
            txns[-1]["final_reply"] = nxt[1] if nxt else None
        i += 1
    return {"helo": helo, "commands": cmds, "auth": auths, "transactions": txns}


def tls_facts(t, meta):
    c, s = t["client"], t["server"]
    if not c or not s:
        sys.exit("make_expect: no ClientHello/ServerHello in the capture")
    out = {
        "tls_version": s["version_names"][0] if s["version_names"] else
        {0x0303: "TLS 1.2", 0x0302: "TLS 1.1", 0x0301: "TLS 1.0", 0x0300: "SSL 3.0"}[s["legacy_version"]],
        "tls_cipher": s["suite_names"][0],
        "ja4": ja4(c),
        "ja4s": ja4s(s),
        "tls_records": t["records"],
    }
    if c["version_names"]:
        out["tls_client_versions"] = c["version_names"]
    if c["sni"]:
        out["tls_sni"] = c["sni"]
    if s["group"]:
        out["tls_group"] = s["group"]
    if s["alpn"]:
        out["tls_alpn"] = s["alpn"][0]
    if c["alpn"]:
        out["tls_client_alpn"] = c["alpn"]
    if t["hello_retry"]:
        out["tls_hello_retry"] = True
    return out


def cert_facts(t, meta):
    if not t["certs"]:
        return {}
    leaf = dict(t["certs"][0])
    # self-signed: the generator made it so (tests/tls/certs), and its names say so
    leaf["self_signed"] = bool(meta.get("self_signed")) and leaf["subject"] == leaf["issuer"]
    return {"tls_chain_len": len(t["certs"]), "tls_server_cert": leaf}


def main():
    a = sys.argv[1:]
    if len(a) < 2:
        sys.exit(__doc__)
    d, name = a[0], a[1]
    capture = os.path.join(d, name + ".pcap")
    keylog = os.path.join(d, name + ".keys")
    wrong = []
    i = 2
    while i < len(a):
        if a[i] == "--capture":
            capture = os.path.join(d, a[i + 1])
        elif a[i] == "--keylog":
            keylog = None if a[i + 1] == "none" else os.path.join(d, a[i + 1])
        elif a[i] == "--wrong":
            wrong.append(a[i + 1])
        i += 2
    meta = json.load(open(os.path.join(d, name + ".meta.json")))
    port = meta["port"]
    decode_as = ["tcp.port==%d,smtp" % port] if meta["mode"] == "starttls" else \
        ["tcp.port==%d,tls" % port, "tls.port==%d,smtp" % port]
    dsb = keylog is None

    plain_t, plain_ev, endpoints = dissect(tshark_pdml(capture, None, decode_as), port)
    keyed_t, keyed_ev, _ = dissect(tshark_pdml(capture, keylog, decode_as), port)
    outside = smtp_dialogue(plain_ev)
    inside = smtp_dialogue(keyed_ev)
    if dsb:
        # the secrets travel in the pcapng: tshark used them in both runs; what is
        # outside TLS is the dialogue up to the 220 to STARTTLS
        n = next((k + 1 for k, c in enumerate(inside["commands"]) if c.upper() == "STARTTLS"), 0)
        outside = {"helo": next((c.split(" ", 1)[1] for c in reversed(inside["commands"][:n])
                                 if c.upper().startswith(("EHLO ", "HELO "))), None),
                   "commands": inside["commands"][:n], "auth": [], "transactions": []}
    if outside["auth"] or outside["transactions"]:
        sys.exit("make_expect: tshark sees SMTP inside TLS without keys?")
    if not inside["transactions"] or len(inside["commands"]) <= len(outside["commands"]):
        sys.exit("make_expect: tshark did not decrypt %s with %s" % (capture, keylog))

    exp = {
        "capture": os.path.basename(capture),
        "keylog": os.path.basename(keylog) if keylog else None,
        "secrets_in_capture": dsb,
        "made_by": "tests/tls/make_expect.py from %s" % subprocess.run(
            [TSHARK, "--version"], capture_output=True, text=True).stdout.splitlines()[0],
        "software": meta.get("software"),
        "mode": meta["mode"],
        "session": {"client": endpoints[0], "server": endpoints[1]},
        "tls": tls_facts(plain_t, meta),
        "cert_in_clear": bool(plain_t["certs"]),
        "outside": {"helo": outside["helo"], "commands": len(outside["commands"]),
                    "command_lines": outside["commands"]},
        "inside": {
            "helo": inside["helo"],
            "commands": len(inside["commands"]),
            "command_lines": inside["commands"],
            "auth": inside["auth"],
            "transactions": inside["transactions"],
            "secrets": [meta["inputs"]["password"]],
        },
    }
    exp["tls"].update(cert_facts(plain_t, meta))
    if dsb and exp["tls"]["tls_version"] == "TLS 1.3":
        # tshark saw the TLS 1.3 certificate through the pcapng's secrets
        for k in ("tls_chain_len", "tls_server_cert"):
            exp["tls"].pop(k, None)
        exp["cert_in_clear"] = False
        exp["tls_decrypted_only"] = cert_facts(keyed_t, meta)
    elif not plain_t["certs"]:
        # TLS 1.3: the certificate is encrypted; tshark sees it with the keys
        exp["tls_decrypted_only"] = cert_facts(keyed_t, meta)
    if exp["tls"].get("tls_sni") != meta.get("sni"):
        sys.exit("make_expect: tshark's SNI %r is not the generator's %r" % (exp["tls"].get("tls_sni"), meta.get("sni")))
    # the generator's inputs agree with tshark's dialogue (else the lab is broken)
    inp = meta["inputs"]
    t0 = inside["transactions"][0]
    if (t0["mail_from"], t0["rcpt_to"], t0["subject"]) != (inp["mail_from"], inp["rcpt_to"], inp["subject"]) \
            or inside["auth"][0]["username"] != inp["user"] or t0["header_from"] != [inp["header_from_addr"]]:
        sys.exit("make_expect: tshark's dialogue differs from the generator's inputs: %r" % inside)
    exp["wrong_keys"] = []
    for w in wrong:
        parts = w.split(":")
        wk, status = parts[0], parts[1].split("|")
        anoms = parts[2].split("|") if len(parts) > 2 and parts[2] else []
        wt, wev, _ = dissect(tshark_pdml(capture, os.path.join(d, wk), decode_as), port)
        wd = smtp_dialogue(wev)
        if wd["transactions"] or wd["auth"]:
            sys.exit("make_expect: tshark decrypts with the wrong key log %s" % wk)
        exp["wrong_keys"].append({"keylog": wk, "tls_keys": status, "anomalies": anoms,
                                  "tshark_commands": len(wd["commands"])})
    out = capture.rsplit(".", 1)[0] + ".expect.json"
    with open(out, "w") as f:
        json.dump(exp, f, indent=1, sort_keys=True)
        f.write("\n")
    print("make_expect: %s" % out)


if __name__ == "__main__":
    main()
