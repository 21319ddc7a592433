#!/usr/bin/env python3
"""gen_hostile — hostile SMTP captures for tests/t_hostile.sh (robustness).

    python3 scripts/gen_hostile.py [OUTDIR]            # default tests/hostile
    python3 scripts/gen_hostile.py --syn-flood OUTDIR  # the big one, at test time
    python3 scripts/gen_hostile.py --syn-collide OUTDIR  # hash-flood SYNs, at test time

Deterministic (fixed seeds, gzip without a time stamp): running it again writes
the same bytes. Each capture is a gzip'd classic pcap NAME.pcap.gz holding one
hostile flow (or many) and one ordinary session whose envelope is known:

    AUTH PLAIN user-NAME, MAIL FROM:<sender-NAME@example.org>,
    RCPT TO:<rcpt-NAME@example.net>, a short message, 250.

OUTDIR/expect.json lists, per capture, the anomaly names that must appear in
smtpscope's JSON output and the normal session's envelope. The captures:

  long_line         one command line of 50 MB without CRLF
  many_rcpt         100,000 RCPT TO in one transaction (all 250)
  pipelined_10k     10,000 commands before any reply, then 10,000 replies
  reply_no_command  replies that answer nothing
  bad_reply_code    reply codes 999, 2x5, 1xx, 6yz and lines too short for a code
  auth_garbage      AUTH PLAIN/LOGIN/CRAM-MD5/XOAUTH2 with base64 of garbage
                    and with text that is not base64 at all
  bdat_huge         BDAT 2^64, 2^64-1, -1, 1e30, then BDAT 2^40 (valid, huge)
  overlap_conflict  retransmissions and overlapping segments with other bytes
  never_closes      flows that never close (one mid-DATA), the capture goes on
                    for 10 more minutes (idle timeout)
  header_10mb       a 10 MB header field, then 10 MB of header fields
  mime_nested       10,000 nested multiparts, then 10,000 sibling parts
  escapes_nul       ESC/CSI/OSC sequences, C1 controls, NUL bytes and bidi
                    overrides in every field (greeting, EHLO, AUTH user, MAIL,
                    RCPT, headers, reply texts, attachment name)
  rst_out_of_window a whole mail session (sequence numbers across 2^32 and
                    2^31) into which RSTs are injected from both sides, at
                    sequence numbers below, above and all around the
                    receiver's window; its mail must still be reported
  unicode_lower_CLASS  one per class of fuzz/case_expanding.txt (code points
                    whose lowercase, as libpsl computes it, is longer in UTF-8):
                    MAIL FROM and From: domains of 255 of its code points (one
                    label), then of exactly 254, 255 and 256 bytes before
                    lowercasing (its code points, padded with 'a'); each
                    transaction must be reported with its MAIL FROM and From:
  nul_encodings     a NUL in the display name, Subject and attachment name
                    of each message, in every header encoding that can carry
                    one (RFC 2047 B/Q in UTF-8, Latin-1, UTF-16/32, UTF-7,
                    Shift_JIS, GB18030; RFC 2231 incl. continuations and
                    UTF-16; an encoded word in a quoted file name): each must
                    come out as U+FFFD with the text after it kept
  tls_hs_16mib      after STARTTLS, a handshake message declaring 2^24 - 1
                    bytes, sent in full in 1,025 records, then a ClientHello
  tls_record_lie    after STARTTLS, a record header declaring 18,433 bytes
                    (above 2^14 + 2048) followed by 1 MiB; the server's
                    ServerHello must still be read
  tls_chain_1000    after STARTTLS, a TLS 1.2 handshake whose Certificate
                    message carries 1,000 certificates (198 KiB)
  tls_decrypt_fail  the TLS 1.2 lab session of tests/tls/lab/t12_gcm.tlss
                    after STARTTLS, analysed with a key log whose master
                    secret is wrong (tls_decrypt_fail.keys), its application
                    records sent twice: nothing from inside may be reported
  The tls_* captures need the TLS layer in the analyzer ("needs":
  "tls_layer"; tests/t_hostile.sh skips them while smtpscope has no
  --tls-keylog) and name their smtpscope arguments in "args".
  syn_flood         (--syn-flood only: ~20 MB gzip'd, not committed) 1,000,000
                    bare SYNs on port 25 from distinct sources, minimal raw-IP
                    frames, with three real sessions interleaved
  syn_collide       (--syn-collide only) the same with 1,000,000 SYNs whose
                    tuples all had one hash value under the flow table's old
                    unkeyed hash (mix64(seed ^ lo ^ rotl17(hi))), so they
                    would all have shared one chain
"""

import base64
import gzip
import hashlib
import io
import json
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pcapgen import (LINKTYPE_ETHERNET, LINKTYPE_RAW, Pcap, Tcp, dot_stuff, inet_csum,  # noqa: E402
                     read_pcap, reply, smtp_lines, tcp_pseudo_sum)

T0 = 1700000000.0
SERVER = ("198.51.100.25", 25)
GREETING = reply(220, "mx.example.net ESMTP")
EHLO_REPLY = reply(250, "mx.example.net", "PIPELINING", "SIZE 52428800", "AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2",
                   "CHUNKING", "8BITMIME", "ENHANCEDSTATUSCODES")
EXPECT = {}


def write_gz(path, pcap_writer):
    """Close pcap_writer into memory and write it gzip'd, deterministically."""
    buf = io.BytesIO()
    pcap_writer.path = buf
    pcap_writer.close()
    with open(path, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as g:
            g.write(buf.getvalue())


def normal_session(pc, name, t0, client_ip="192.0.2.10"):
    """The ordinary session every capture carries; returns what it must report."""
    user, sender, rcpt = "user-" + name, "sender-%s@example.org" % name, "rcpt-%s@example.net" % name
    t = Tcp(pc, client=(client_ip, 0), server=SERVER, t0=t0, seed=hash_seed(name))
    t.handshake()
    t.server(GREETING)
    t.client(smtp_lines("EHLO client.example.org"))
    t.server(EHLO_REPLY)
    t.client(smtp_lines("AUTH PLAIN " + base64.b64encode(b"\0" + user.encode() + b"\0secret").decode()))
    t.server(reply(235, "2.7.0 Authentication successful"))
    t.client(smtp_lines("MAIL FROM:<%s>" % sender))
    t.server(reply(250, "2.1.0 Ok"))
    t.client(smtp_lines("RCPT TO:<%s>" % rcpt))
    t.server(reply(250, "2.1.5 Ok"))
    t.client(smtp_lines("DATA"))
    t.server(reply(354, "End data with <CR><LF>.<CR><LF>"))
    t.client(dot_stuff("From: <%s>\r\nTo: <%s>\r\nSubject: normal %s\r\n\r\nhello\r\n" % (sender, rcpt, name)))
    t.server(reply(250, "2.0.0 Ok: queued"))
    t.client(smtp_lines("QUIT"))
    t.server(reply(221, "2.0.0 Bye"))
    t.close()
    return {"user": user, "mail_from": sender, "rcpt": rcpt}


def hash_seed(name):
    h = 0
    for ch in name.encode():
        h = (h * 131 + ch) & 0xFFFFFFFF
    return h


def hostile_start(pc, name, t0, client_ip="203.0.113.66", ehlo=True):
    t = Tcp(pc, client=(client_ip, 0), server=SERVER, t0=t0, seed=hash_seed(name) + 1)
    t.handshake()
    t.server(GREETING)
    if ehlo:
        t.client(smtp_lines("EHLO evil.example"))
        t.server(EHLO_REPLY)
    return t


def capture(outdir, name, anomalies, build, extra=None):
    pc = Pcap(None, LINKTYPE_ETHERNET, seed=hash_seed(name))
    normal = normal_session(pc, name, T0)
    build(pc, T0 + 1.0)
    write_gz(os.path.join(outdir, name + ".pcap.gz"), pc)
    e = {"anomalies": anomalies, "normal": normal}
    e.update(extra or {})
    EXPECT[name] = e


# ---- the captures -------------------------------------------------------------

def b_long_line(pc, t0):
    t = hostile_start(pc, "long_line", t0)
    chunk = b"A" * (1 << 20)
    for _ in range(50):  # 50 MiB, no CR, no LF
        t.client(chunk, segsize=65000, ack=False)
    t.close()


def b_many_rcpt(pc, t0):
    t = hostile_start(pc, "many_rcpt", t0)
    t.client(smtp_lines("MAIL FROM:<bulk@evil.example>"))
    t.server(reply(250, "2.1.0 Ok"))
    for base in range(0, 100000, 10000):
        t.client(b"".join(b"RCPT TO:<r%06d@victim.example>\r\n" % i for i in range(base, base + 10000)),
                 segsize=60000, ack=False)
        t.server(b"250 2.1.5 Ok\r\n" * 10000, segsize=60000, ack=False)
    t.client(smtp_lines("DATA"))
    t.server(reply(354, "go"))
    t.client(dot_stuff("Subject: bulk\r\n\r\nx\r\n"))
    t.server(reply(250, "2.0.0 Ok"))
    t.close()


def b_pipelined_10k(pc, t0):
    t = hostile_start(pc, "pipelined_10k", t0)
    t.client(b"NOOP\r\n" * 5000 + b"RSET\r\n" * 5000, segsize=30000, ack=False)
    t.server(b"250 2.0.0 Ok\r\n" * 10000, segsize=30000, ack=False)
    t.client(smtp_lines("QUIT"))
    t.server(reply(221, "Bye"))
    t.close()


def b_reply_no_command(pc, t0):
    t = hostile_start(pc, "reply_no_command", t0)
    for i in range(50):
        t.server(reply(250, "unsolicited %d" % i))
    t.server(reply(354, "go ahead") + reply(334, "VXNlcm5hbWU6") + reply(221, "bye") + reply(535, "no"))
    t.client(smtp_lines("NOOP"))
    t.server(reply(250, "Ok"))
    t.close()
    # a server that talks first and only: no client bytes at all
    t = hostile_start(pc, "reply_no_command2", t0 + 0.5, client_ip="203.0.113.67", ehlo=False)
    t.server(reply(250, "x") * 100)
    t.close()


def b_bad_reply_code(pc, t0):
    t = hostile_start(pc, "bad_reply_code", t0, ehlo=False)
    for cmd, rep in ((b"EHLO a\r\n", b"999 what\r\n"), (b"NOOP\r\n", b"2x5 what\r\n"),
                     (b"NOOP\r\n", b"100 early\r\n"), (b"NOOP\r\n", b"600 late\r\n"),
                     (b"NOOP\r\n", b"25\r\n"), (b"NOOP\r\n", b"\r\n"), (b"NOOP\r\n", b"250-a\r\n251 b\r\n"),
                     (b"NOOP\r\n", b"-250 x\r\n"), (b"NOOP\r\n", b"250x\r\n"), (b"NOOP\r\n", b"250 ok\r\n")):
        t.client(cmd)
        t.server(rep)
    t.close()


def b_auth_garbage(pc, t0):
    rng = random.Random(7)
    garbage = bytes(rng.randrange(256) for _ in range(300))
    b64 = base64.b64encode(garbage)
    t = hostile_start(pc, "auth_garbage", t0)
    t.client(b"AUTH PLAIN " + b64 + b"\r\n")
    t.server(reply(535, "5.7.8 no"))
    t.client(b"AUTH PLAIN\r\n")
    t.server(b"334 \r\n")
    t.client(b"!!!not*base64@@@\x00\x01\r\n")
    t.server(reply(501, "5.5.2 bad"))
    t.client(b"AUTH LOGIN " + base64.b64encode(b"\xff\xfe\x00\x1b[2J") + b"\r\n")
    t.server(reply(334, "UGFzc3dvcmQ6"))
    t.client(b64 + b"\r\n")
    t.server(reply(535, "5.7.8 no"))
    t.client(b"AUTH LOGIN\r\n")
    t.server(reply(334, base64.b64encode(garbage[:40]).decode()))
    t.client(b"====\r\n")
    t.server(reply(501, "bad"))
    t.client(b"AUTH CRAM-MD5\r\n")
    t.server(reply(334, "PDEyMzQ1QGV4YW1wbGU+"))
    t.client(b64 + b"\r\n")
    t.server(reply(535, "no"))
    t.client(b"AUTH XOAUTH2 " + b64 + b"\r\n")
    t.server(reply(334, "eyJzdGF0dXMiOiI0MDAifQ=="))
    t.client(b"\r\n")
    t.server(reply(535, "no"))
    t.client(b"AUTH NTLM " + b64 + b"\r\n")
    t.server(reply(535, "no"))
    for _ in range(20):  # more attempts than SMTP_AUTH_MAX
        t.client(b"AUTH PLAIN " + b64[:40] + b"\r\n")
        t.server(reply(535, "no"))
    t.client(smtp_lines("QUIT"))
    t.server(reply(221, "Bye"))
    t.close()


def b_bdat_huge(pc, t0):
    t = hostile_start(pc, "bdat_huge", t0)
    t.client(smtp_lines("MAIL FROM:<a@evil.example>", "RCPT TO:<b@victim.example>"))
    t.server(reply(250, "Ok") + reply(250, "Ok"))
    for size in (b"18446744073709551616", b"18446744073709551615", b"-1", b"1000000000000000000000000000000",
                 b"", b"0x10", b"99999999999999999999999999999999999999999999999999999999999999999999999"):
        t.client(b"BDAT " + size + b" LAST\r\n")
        t.server(reply(501, "5.5.4 invalid size"))
    t.client(b"BDAT 1099511627776\r\n" + b"Z" * 100000, segsize=50000)  # 2^40: valid, huge, never finished
    t.close()


def b_overlap_conflict(pc, t0):
    t = hostile_start(pc, "overlap_conflict", t0)
    rel = t.c.nxt - 1  # next client data byte, counted from ISN + 1
    line = b"MAIL FROM:<good@example.org>\r\n"
    evil = b"MAIL FROM:<evil@example.org>\r\n"
    t.segment("client", rel + 10, line[10:20])     # out of order first
    t.segment("client", rel, evil)                 # then the whole line with other bytes
    t.client(line)                                 # the sender's 'real' bytes (after the fact)
    t.segment("client", rel, evil)                 # a conflicting retransmission of delivered bytes
    t.server(reply(250, "Ok"))
    t.client(smtp_lines("QUIT"))
    t.server(reply(221, "Bye"))
    t.close()


def b_never_closes(pc, t0):
    t = hostile_start(pc, "never_closes", t0)
    t.client(smtp_lines("MAIL FROM:<a@evil.example>", "RCPT TO:<b@victim.example>", "DATA"))
    t.server(reply(250, "Ok") + reply(250, "Ok") + reply(354, "go"))
    t.client(b"Subject: never ends\r\n\r\nbody without end\r\n")
    t2 = hostile_start(pc, "never_closes2", t0 + 0.2, client_ip="203.0.113.67")
    t2.client(smtp_lines("NOOP"))
    # ... and the capture goes on: a late session 10 minutes later (idle timeout 300 s)
    normal_session(pc, "never_closes_late", t0 + 600.0, client_ip="192.0.2.11")


def b_header_10mb(pc, t0):
    t = hostile_start(pc, "header_10mb", t0)
    folded = b"X-Big: " + b"\r\n ".join([b"h" * 996] * 10240) + b"\r\n"  # one field of ~10 MB
    many = b"".join(b"X-F%07d: %s\r\n" % (i, b"v" * 90) for i in range(100000))  # ~10 MB of fields
    for hdr in (folded, many):
        t.client(smtp_lines("MAIL FROM:<a@evil.example>", "RCPT TO:<b@victim.example>", "DATA"))
        t.server(reply(250, "Ok") + reply(250, "Ok") + reply(354, "go"))
        t.client(dot_stuff(b"From: <a@evil.example>\r\n" + hdr + b"Subject: after\r\n\r\nbody\r\n"),
                 segsize=60000, ack=False)
        t.server(reply(250, "2.0.0 Ok"))
    t.close()


def b_mime_nested(pc, t0):
    t = hostile_start(pc, "mime_nested", t0)
    nested = [b"From: <a@evil.example>\r\nMIME-Version: 1.0\r\n"]
    for i in range(10000):
        nested.append(b"Content-Type: multipart/mixed; boundary=\"b%05d\"\r\n\r\n--b%05d\r\n" % (i, i))
    nested.append(b"Content-Type: text/plain\r\n\r\ninner\r\n")
    for i in reversed(range(10000)):
        nested.append(b"--b%05d--\r\n" % i)
    siblings = [b"From: <a@evil.example>\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: multipart/mixed; boundary=\"s\"\r\n\r\n"]
    for i in range(10000):
        siblings.append(b"--s\r\nContent-Type: application/octet-stream; name=\"f%05d.bin\"\r\n"
                        b"Content-Disposition: attachment; filename=\"f%05d.bin\"\r\n\r\nx\r\n" % (i, i))
    siblings.append(b"--s--\r\n")
    for msg in (b"".join(nested), b"".join(siblings)):
        t.client(smtp_lines("MAIL FROM:<a@evil.example>", "RCPT TO:<b@victim.example>", "DATA"))
        t.server(reply(250, "Ok") + reply(250, "Ok") + reply(354, "go"))
        t.client(dot_stuff(msg), segsize=60000, ack=False)
        t.server(reply(250, "2.0.0 Ok"))
    t.close()


ESC = b"\x1b[2J\x1b[31m\x1b]0;pwned\x07\x9b31m\xc2\x9b1m\x00\x7f\xe2\x80\xae\x08\r"


def b_escapes_nul(pc, t0):
    t = Tcp(pc, client=("203.0.113.66", 0), server=SERVER, t0=t0, seed=99)
    t.handshake()
    t.server(b"220 mx" + ESC + b" ESMTP\r\n")
    t.client(b"EHLO ev" + ESC + b"il\r\n")
    t.server(b"250-mx" + ESC + b"\r\n250-PIPELINING\r\n250 AUTH LOGIN PLAIN " + ESC + b"\r\n")
    t.client(b"AUTH LOGIN " + base64.b64encode(b"us" + ESC + b"er") + b"\r\n")
    t.server(reply(334, "UGFzc3dvcmQ6"))
    t.client(base64.b64encode(b"pa" + ESC + b"ss") + b"\r\n")
    t.server(b"235 ok" + ESC + b"\r\n")
    t.client(b"MAIL FROM:<a" + ESC + b"@evil.example> BODY=8BIT" + ESC + b"MIME\r\n")
    t.server(b"250 ok" + ESC + b"\r\n")
    t.client(b"RCPT TO:<b" + ESC + b"@victim.example> NOTIFY=" + ESC + b"\r\n")
    t.server(b"250 ok" + ESC + b"\r\n")
    t.client(b"X" + ESC + b"CMD " + ESC + b"\r\n")
    t.server(b"500 unknown" + ESC + b"\r\n")
    t.client(smtp_lines("DATA"))
    t.server(reply(354, "go"))
    msg = (b"From: \"Na" + ESC + b"me\" <f" + ESC + b"@evil.example>\r\n"
           b"To: t" + ESC + b"@victim.example\r\n"
           b"Subject: s" + ESC + b" =?UTF-8?B?" + base64.b64encode(b"enc" + ESC) + b"?=\r\n"
           b"Message-ID: <" + ESC + b"@x>\r\n"
           b"X-Mailer: m" + ESC + b"\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"q\"\r\n\r\n"
           b"--q\r\nContent-Disposition: attachment; filename=\"a" + ESC + b".exe\"\r\n\r\nx\r\n--q--\r\n"
           b"body " + ESC + b"\r\n")
    t.client(dot_stuff(msg))
    t.server(b"250 queued" + ESC + b"\r\n")
    t.client(b"QUIT" + ESC + b"\r\n")
    t.server(b"221 bye" + ESC + b"\r\n")
    t.close()


RST_USER = "user-rst_out_of_window-victim"


def b_rst_out_of_window(pc, t0):
    """A mail session with RSTs injected from both sides at sequence numbers
    outside the receiver's window: the window-field values are 502 (client)
    and 509 (server) with window scale 7, so 64,256 and 65,152 bytes."""
    sender, rcpt = "ceo@victim.example", "finance@victim.example"
    t = Tcp(pc, client=("203.0.113.70", 0), server=SERVER, t0=t0, seed=hash_seed("rst_out_of_window"),
            isn=(0xFFFFFFF0, 0x7FFFFFF0))  # the client's numbers wrap 2^32, the server's cross 2^31
    wnd = {"client": 509 << 7, "server": 502 << 7}  # the receiver's window for RSTs from that side

    def inject():
        # both sides acknowledge what they received (their windows start there)
        t.segment("client", t.c.nxt - 1, b"", flags="A")
        t.segment("server", t.s.nxt - 1, b"", flags="A")
        for side in ("client", "server"):
            me = t.c if side == "client" else t.s
            nxt, w = me.nxt - 1, wnd[side]  # relative to ISN + 1, as segment() counts
            offs = [-1, -2, -1000, -w, -w - 1, -(1 << 31), w, w + 1, 100000, 1000000,
                    (1 << 31) - 1, 1 << 31, (1 << 32) - w - 1]
            offs += [w + k * (((1 << 32) - 2 * w) // 32) for k in range(1, 32)]  # all around the space
            for k, off in enumerate(offs):
                t.segment(side, nxt + off, b"", flags="RA" if k % 2 else "R", delay=0.00002)
        # and one with data, out of the window: its bytes must not become a command
        t.segment("client", t.c.nxt - 1 + 200000, b"RSET\r\nMAIL FROM:<evil@evil.example>\r\n", flags="RA")

    t.handshake()
    t.server(GREETING)
    t.client(smtp_lines("EHLO client.victim.example"))
    t.server(EHLO_REPLY)
    inject()
    t.client(smtp_lines("AUTH PLAIN " + base64.b64encode(b"\0" + RST_USER.encode() + b"\0pw").decode()))
    t.server(reply(235, "2.7.0 Authentication successful"))
    t.client(smtp_lines("MAIL FROM:<%s>" % sender))
    t.server(reply(250, "2.1.0 Ok"))
    t.client(smtp_lines("RCPT TO:<%s>" % rcpt))
    t.server(reply(250, "2.1.5 Ok"))
    inject()
    t.client(smtp_lines("DATA"))
    t.server(reply(354, "End data with <CR><LF>.<CR><LF>"))
    msg = dot_stuff("From: <%s>\r\nTo: <%s>\r\nSubject: transfer\r\n\r\n%s" % (sender, rcpt, "please pay\r\n" * 300))
    t.client(msg[:1500])
    inject()
    t.client(msg[1500:])
    t.server(reply(250, "2.0.0 Ok: queued"))
    inject()
    t.client(smtp_lines("QUIT"))
    t.server(reply(221, "2.0.0 Bye"))
    t.close()
def case_expanding_classes():
    """{class: [code points]} from fuzz/case_expanding.txt, in file order."""
    classes = {}
    with open(os.path.join(os.path.dirname(HERE), "fuzz", "case_expanding.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("U+"):
                cp, _, _, _, _, cls = line.split()[:6]
                classes.setdefault(cls, []).append(int(cp[2:], 16))
    return classes


def lower_domains(cps):
    """(local part, domain): 255 code points (local part "c": 255 four-byte code
    points make a 1,022-byte address, SMTP_ADDR_MAX is 1,024), then 254, 255
    and 256 bytes."""
    out = [("c", "".join(chr(cps[i % len(cps)]) for i in range(255)))]
    for size in (254, 255, 256):
        d, i = "", 0
        while len((d + chr(cps[i % len(cps)])).encode()) <= size:
            d += chr(cps[i % len(cps)])
            i += 1
        out.append(("b%d" % size, d + "a" * (size - len(d.encode()))))
    return out


def unicode_lower_builder(name, cps):
    def build(pc, t0):
        t = hostile_start(pc, name, t0)
        for local, dom in lower_domains(cps):
            addr = "%s@%s" % (local, dom)
            t.client(smtp_lines("MAIL FROM:<%s> SMTPUTF8" % addr, "RCPT TO:<v@victim.example>", "DATA"))
            t.server(reply(250, "2.1.0 Ok") + reply(250, "2.1.5 Ok") + reply(354, "go"))
            t.client(dot_stuff("From: <%s>\r\nTo: <v@victim.example>\r\nSubject: %s\r\n\r\nx\r\n" % (addr, local)))
            t.server(reply(250, "2.0.0 Ok: queued"))
        t.client(smtp_lines("QUIT"))
        t.server(reply(221, "Bye"))
        t.close()
    return build


def unicode_lower_expect(cps):
    """The transactions check.py must find: MAIL FROM and From: by digest."""
    out = []
    for local, dom in lower_domains(cps):
        a = ("%s@%s" % (local, dom)).encode()
        out.append({"local": local, "bytes": len(a), "sha1": hashlib.sha1(a).hexdigest()})
    return out


NUL_TEXT = "Pay\x00Pal"          # what every encoding below carries
NUL_WANT = "Pay\ufffdPal"         # what smtpscope must report: U+FFFD, nothing cut


def b64(b):
    return base64.b64encode(b).decode()


def nul_encodings():
    """(tag, display-name / Subject encoded word or text, attachment parameter)
    for every header encoding that can carry a NUL: RFC 2047 B and Q in
    single- and multi-byte charsets (UTF-16/32 carry the NUL as 00 00), UTF-7
    (+AAA-), RFC 2231 percent-encoding (also in a continuation and in UTF-16),
    and an encoded word inside a quoted file name (a common non-standard form)."""
    t = NUL_TEXT
    return [
        ("b_utf8", "=?UTF-8?B?%s?=" % b64(t.encode()), 'filename*=UTF-8\'\'Pay%00Pal.pdf'),
        ("q_utf8", "=?UTF-8?Q?Pay=00Pal?=", 'filename*0*=UTF-8\'\'Pay%00; filename*1*=Pal.pdf'),
        ("q_latin1", "=?ISO-8859-1?Q?Pay=00Pal?=", 'filename*=ISO-8859-1\'\'Pay%00Pal.pdf'),
        ("b_utf16be", "=?UTF-16BE?B?%s?=" % b64(t.encode("utf-16-be")),
         'filename*=UTF-16BE\'\'' + "".join("%%%02X" % c for c in (t + ".pdf").encode("utf-16-be"))),
        ("b_utf16le", "=?UTF-16LE?B?%s?=" % b64(t.encode("utf-16-le")), 'filename="=?UTF-8?B?%s?="' % b64((t + ".pdf").encode())),
        ("b_utf16bom", "=?UTF-16?B?%s?=" % b64(t.encode("utf-16")), 'filename="=?UTF-8?Q?Pay=00Pal.pdf?="'),
        ("b_utf32", "=?UTF-32BE?B?%s?=" % b64(t.encode("utf-32-be")), 'filename*=UTF-8\'\'Pay%00Pal.pdf'),
        ("utf7", "=?UTF-7?Q?Pay+AAA-Pal?=", 'filename*=UTF-8\'\'Pay%00Pal.pdf'),
        ("q_sjis", "=?Shift_JIS?Q?Pay=00Pal?=", 'filename*=Shift_JIS\'\'Pay%00Pal.pdf'),
        ("q_gb18030", "=?GB18030?B?%s?=" % b64(t.encode("gb18030")), 'filename*=GB18030\'\'Pay%00Pal.pdf'),
    ]


def b_nul_encodings(pc, t0):
    t = hostile_start(pc, "nul_encodings", t0)
    for tag, word, fparam in nul_encodings():
        addr = "nul-%s@paypal.example" % tag
        t.client(smtp_lines("MAIL FROM:<%s>" % addr, "RCPT TO:<v@victim.example>", "DATA"))
        t.server(reply(250, "2.1.0 Ok") + reply(250, "2.1.5 Ok") + reply(354, "go"))
        msg = ("From: %s <%s>\r\nTo: <v@victim.example>\r\nSubject: %s\r\nMIME-Version: 1.0\r\n"
               "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
               "--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; %s\r\n\r\nJVBERi0=\r\n--b--\r\n"
               % (word, addr, word, fparam))
        t.client(dot_stuff(msg))
        t.server(reply(250, "2.0.0 Ok: queued"))
    t.client(smtp_lines("QUIT"))
    t.server(reply(221, "Bye"))
    t.close()


def nul_expect():
    return [{"mail_from": "nul-%s@paypal.example" % tag, "from_name": NUL_WANT, "subject": NUL_WANT,
             "attachment": NUL_WANT + ".pdf"} for tag, _, _ in nul_encodings()]


# ---- the SYN flood (generated at test time) -------------------------------------

# ---- TLS ---------------------------------------------------------------------

STARTTLS_EHLO = reply(250, "mx.example.net", "PIPELINING", "STARTTLS", "8BITMIME")
# A v1 Ed25519 certificate (CN=c, 198 bytes), made once with openssl req.
ED25519_CERT = bytes.fromhex(
    "3081c03074020101300506032b6570300c310a300806035504030c01633020170d3236313230333133353533355a180f3231"
    "3236313130393133353533355a300c310a300806035504030c0163302a300506032b6570032100fa0de8a634ce3bce5e45a9"
    "5ac24c06560d60d4a6925de5d12239e4bda9cdcaf6300506032b6570034100d2c91cf0a9ed07a0ab705d8928c8e280876d6d"
    "b388dcd3184e8a3369efd105e1ee38859ccd6756777640424134a9b685fe61433b59e94241f5f9ccd37a52960c")


def tls_record(ctype, body, ver=0x0303):
    return bytes([ctype]) + struct.pack(">HH", ver, len(body)) + body


def tls_records(ctype, msg, ver=0x0303, size=16384):
    return b"".join(tls_record(ctype, msg[i:i + size], ver) for i in range(0, len(msg), size))


def tls_hs(htype, body):
    return bytes([htype]) + struct.pack(">I", len(body))[1:] + body


def tls_client_hello(sni=b"mx.example.net"):
    ext_sni = struct.pack(">HBH", len(sni) + 3, 0, len(sni)) + sni
    exts = struct.pack(">HH", 0, len(ext_sni)) + ext_sni
    exts += struct.pack(">HH", 10, 4) + struct.pack(">HH", 2, 23)
    exts += struct.pack(">HH", 13, 4) + struct.pack(">HH", 2, 0x0403)
    body = struct.pack(">H", 0x0303) + bytes(range(32)) + b"\x00" + struct.pack(">HHH", 4, 0xc02f, 0xc030) + b"\x01\x00"
    body += struct.pack(">H", len(exts)) + exts
    return tls_hs(1, body)


def tls_server_hello():
    body = struct.pack(">H", 0x0303) + bytes(range(100, 132)) + b"\x00" + struct.pack(">HB", 0xc02f, 0)
    return tls_hs(2, body + struct.pack(">H", 5) + struct.pack(">HHB", 0xff01, 1, 0))


def starttls_start(pc, name, t0):
    t = Tcp(pc, client=("203.0.113.67", 0), server=SERVER, t0=t0, seed=hash_seed(name) + 1)
    t.handshake()
    t.server(GREETING)
    t.client(smtp_lines("EHLO tls.example"))
    t.server(STARTTLS_EHLO)
    t.client(smtp_lines("STARTTLS"))
    t.server(reply(220, "2.0.0 Ready to start TLS"))
    return t


def b_tls_hs_16mib(pc, t0):
    t = starttls_start(pc, "tls_hs_16mib", t0)
    msg = b"\x0b\xff\xff\xff" + bytes(0xffffff)
    t.client(tls_records(22, msg), segsize=65000, ack=False)
    t.client(tls_record(22, tls_client_hello()))
    t.server(tls_record(21, b"\x02\x28"))
    t.close()


def b_tls_record_lie(pc, t0):
    t = starttls_start(pc, "tls_record_lie", t0)
    t.client(b"\x16\x03\x01\x48\x01" + b"\x01" * (1 << 20), segsize=65000, ack=False)
    t.server(tls_record(22, tls_server_hello()))
    t.close()


def b_tls_chain_1000(pc, t0):
    t = starttls_start(pc, "tls_chain_1000", t0)
    t.client(tls_record(22, tls_client_hello(), 0x0301))
    certs = b"".join(struct.pack(">I", len(ED25519_CERT))[1:] + ED25519_CERT for _ in range(1000))
    msg = tls_server_hello() + tls_hs(11, struct.pack(">I", len(certs))[1:] + certs) + tls_hs(14, b"")
    t.server(tls_records(22, msg))
    t.client(tls_record(21, b"\x02\x30"))
    t.close()


def read_tlss(path):
    chunks = []
    with open(path) as f:
        for line in f:
            if line[:1] in "<>":
                chunks.append(("server" if line[0] == "<" else "client", bytes.fromhex(line[1:].strip())))
    return chunks


LAB = os.path.join(os.path.dirname(HERE), "tests", "tls", "lab")


def b_tls_decrypt_fail(pc, t0):
    t = starttls_start(pc, "tls_decrypt_fail", t0)
    chunks = read_tlss(os.path.join(LAB, "t12_gcm.tlss"))
    for side, data in chunks:
        t.send(side, data)
    # the application records once more: records after a failed decryption
    for side, data in chunks:
        if data[:1] == b"\x17":
            t.send(side, data)
    t.close()


def tls_decrypt_fail_keys(outdir):
    """The lab session's CLIENT_RANDOM with a master secret that is wrong."""
    with open(os.path.join(LAB, "t12_gcm.keys")) as f:
        for line in f:
            if line.startswith("CLIENT_RANDOM"):
                _, cr, ms = line.split()
                bad = "%02x" % (int(ms[:2], 16) ^ 1) + ms[2:]
                with open(os.path.join(outdir, "tls_decrypt_fail.keys"), "w") as o:
                    o.write("CLIENT_RANDOM %s %s\n" % (cr, bad))
                return


def syn_frames(outdir, name, n, tuples, seed):
    """n minimal SYN frames (raw IPv4, 40 bytes), 50 us apart, from
    tuples(i) -> (src 4 bytes, sport, dst 4 bytes), with three normal
    sessions interleaved (at the start, middle and end)."""
    pc = Pcap(None, LINKTYPE_RAW, seed=5)
    span = n * 50 / 1e6
    normals = [normal_session(pc, name, T0 + k * span / 2 + 0.5, client_ip="192.0.2.%d" % (20 + k))
               for k in range(3)]
    buf = io.BytesIO()
    pc.path = buf
    pc.close()
    real = buf.getvalue()
    # frames of the real sessions, to merge by time
    recs, off = [], 24
    while off < len(real):
        ts_s, ts_u, cap, _ = struct.unpack("<IIII", real[off:off + 16])
        recs.append((ts_s * 1000000 + ts_u, real[off:off + 16 + cap]))
        off += 16 + cap
    rng = random.Random(seed)
    path = os.path.join(outdir, name + ".pcap.gz")
    t0 = int(T0 * 1e6)
    with open(path, "wb") as f, gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=1) as g:
        g.write(real[:24])
        ri = 0
        out = []
        for i in range(n):
            ts = t0 + i * 50
            while ri < len(recs) and recs[ri][0] <= ts:
                out.append(recs[ri][1])
                ri += 1
            src, sport, dst = tuples(i)
            seq = rng.getrandbits(32)
            tcp = struct.pack("!HHIIBBHHH", sport, 25, seq, 0, 5 << 4, 0x02, 1024, 0, 0)
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, i & 0xFFFF, 0, 64, 6, 0, src, dst)
            out.append(struct.pack("<IIII", ts // 1000000, ts % 1000000, 40, 40) + ip + tcp)
            if len(out) >= 8192:
                g.write(b"".join(out))
                out = []
        for _, fr in recs[ri:]:
            out.append(fr)
        g.write(b"".join(out))
    return {"anomalies": ["flow_evicted"], "normal": normals[0], "normal_sessions": 3, "min_flows": n}


def syn_flood(outdir, n=1000000):
    """1,000,000 SYNs to port 25 of one server from distinct sources."""
    dst = bytes([198, 51, 100, 25])
    return syn_frames(outdir, "syn_flood", n,
                      lambda i: (struct.pack("!I", 0x0A000000 + i), 1024 + (i % 60000), dst), 11)


def collide_tuples(n):
    """n (client, client port, server) tuples on port 25 that all had one
    value under the old flow hash mix64(seed ^ lo ^ rotl17(hi)), whatever
    the seed: each endpoint is (address as a little-endian host reads it)
    << 16 | port, lo the lower one. The client is hi: its address bits 15-30
    are fixed so that lo = C ^ rotl17(hi) fits 48 bits; C's low 16 bits are
    25, so lo is always a server on port 25 (tests/unit/test_flow.c builds
    the same set)."""
    C = 0x7FFF0A0B0C0D0019
    out = []
    for cport in range(1024, 65536):
        for low in range(0x2000):
            c4 = 0x3FFF8000 | low
            hi = c4 << 16 | cport
            lo = C ^ (((hi << 17) | (hi >> 47)) & ((1 << 64) - 1))
            if lo >> 48 or lo >= hi or lo & 0xFFFF != 25:
                continue
            out.append((struct.pack("<I", c4), cport, struct.pack("<I", lo >> 16)))
            if len(out) == n:
                return out
    return out


def syn_collide(outdir, n=1000000):
    tup = collide_tuples(n)
    return syn_frames(outdir, "syn_collide", len(tup), lambda i: tup[i], 13)


def main(argv):
    if len(argv) >= 2 and argv[0] in ("--syn-flood", "--syn-collide"):
        gen = syn_flood if argv[0] == "--syn-flood" else syn_collide
        e = gen(argv[1], int(argv[2]) if len(argv) > 2 else 1000000)
        print(json.dumps(e))
        return 0
    outdir = argv[0] if argv else os.path.join(os.path.dirname(HERE), "tests", "hostile")
    os.makedirs(outdir, exist_ok=True)
    capture(outdir, "long_line", ["smtp_line_too_long"], b_long_line)
    capture(outdir, "many_rcpt", ["smtp_too_many_recipients"], b_many_rcpt, {"rcpt_total": 100000})
    capture(outdir, "pipelined_10k", ["smtp_excessive_pending_cmds"], b_pipelined_10k)
    capture(outdir, "reply_no_command", ["smtp_unexpected_reply"], b_reply_no_command)
    capture(outdir, "bad_reply_code", ["smtp_invalid_reply"], b_bad_reply_code)
    capture(outdir, "auth_garbage", ["smtp_auth_malformed", "smtp_auth_bad_base64", "smtp_auth_too_many_attempts"],
            b_auth_garbage)
    capture(outdir, "bdat_huge", ["smtp_invalid_bdat_command", "smtp_huge_bdat_chunk"], b_bdat_huge)
    capture(outdir, "overlap_conflict", ["tcp_overlap_conflict"], b_overlap_conflict,
            {"mail_from_seen": ["good@example.org"], "not_mail_from": ["evil@example.org"]})
    capture(outdir, "never_closes", ["flow_timeout", "smtp_data_incomplete"], b_never_closes)
    capture(outdir, "header_10mb", ["imf_header_too_long", "imf_field_too_long"], b_header_10mb)
    capture(outdir, "mime_nested", ["imf_mime_too_deep", "imf_mime_too_many_parts"], b_mime_nested)
    capture(outdir, "escapes_nul", ["imf_nul_byte"], b_escapes_nul, {"no_raw_escapes": True})
    capture(outdir, "rst_out_of_window", ["tcp_rst_out_of_window", "tcp_bad_flags"], b_rst_out_of_window,
            {"also": [{"user": RST_USER, "mail_from": "ceo@victim.example", "rcpt": "finance@victim.example"}],
             "not_mail_from": ["evil@evil.example"]})
    capture(outdir, "nul_encodings", ["imf_nul_byte"], b_nul_encodings, {"nul_headers": nul_expect()})
    for cls, cps in case_expanding_classes().items():
        name = "unicode_lower_" + cls
        capture(outdir, name, [], unicode_lower_builder(name, cps), {"transactions": unicode_lower_expect(cps)})
    tls = {"needs": "tls_layer"}
    capture(outdir, "tls_hs_16mib", ["tls_hs_too_long"], b_tls_hs_16mib, tls)
    capture(outdir, "tls_record_lie", ["tls_record_too_long"], b_tls_record_lie, tls)
    capture(outdir, "tls_chain_1000", ["tls_chain_long"], b_tls_chain_1000, tls)
    tls_decrypt_fail_keys(outdir)
    capture(outdir, "tls_decrypt_fail", ["tls_decrypt_failed"], b_tls_decrypt_fail,
            dict(tls, args=["--tls-keylog", "tests/hostile/tls_decrypt_fail.keys"],
                 not_mail_from=["alice@example.org"]))
    with open(os.path.join(outdir, "expect.json"), "w") as f:
        json.dump(EXPECT, f, indent=1, sort_keys=True)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
