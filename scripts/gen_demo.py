#!/usr/bin/env python3
"""Build captures/demo.pcap: five SMTP sessions, deterministic (same bytes on
every run), described session by session in captures/README.md.

    python3 scripts/gen_demo.py [OUTPUT]      (default: captures/demo.pcap)

a  seed dialogue (habr.com/ru/post/51772): telnet to smtp.yandex.ru:2025,
   AUTH LOGIN, MAIL FROM vasiapupkin@ya.ru but From: ...@mail.ru
b  legitimate relay on 25: PIPELINING, one RCPT rejected, multipart with an
   RFC 2231 attachment name, DKIM d=example.org, RFC 2047 subject, RSET and a
   second message; reordered + retransmitted segments; client ISN wraps
c  IPv6 submission on 587: AUTH PLAIN fails (535), AUTH LOGIN succeeds,
   From: "support@paypal.com" <alice@example.net>, Reply-To elsewhere
d  802.1Q VLAN 100, port 25: BDAT chunks (null sender DSN), then a second
   transaction ending with BDAT 0 LAST
e  port 25 STARTTLS accepted, then TLS records (abbreviated handshake)
"""

import base64
import hashlib
import os
import quopri
import random
import sys

sys.dont_write_bytecode = True  # no scripts/__pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pcapgen import LINKTYPE_ETHERNET, MOD32, Pcap, Tcp, dot_stuff, reply, smtp_lines  # noqa: E402

SEED = 20090202
T = 1233571642.0  # Mon, 2 Feb 2009 10:47:22 UTC = 13:47:22 +0300, the seed's greeting


def crlf(text):
    """Message text with LF line ends -> CRLF."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


# ------------------------------------------------------------------ a: the seed
def session_a(pc):
    t = Tcp(pc, client=("91.198.212.5", 3467), server=("213.180.204.38", 2025), t0=T - 0.215,
            isn=(MOD32 - 100, 0x5D1C0A37), rtt=0.062, client_mac="00:1a:4b:2c:91:07",
            server_mac="00:0d:bd:e4:01:c2", ttl=(128, 55), seed=SEED + 1)
    t.handshake()
    t.server(b"220 Yandex ESMTP (NO UCE) (NO UBE) server ready at Mon, 2 Feb 2009 13:47:22 +0300\r\n")
    # telnet in line mode: one segment per line typed (or pasted), seconds apart
    t.client(b"EHLO [91.198.212.5]\r\n", delay=3.12)
    t.server(reply(250, "smtp18.yandex.ru Hello 91.198.212.5", "SIZE 20971520", "8BITMIME",
                   "PIPELINING", "CHUNKING", "ENHANCEDSTATUSCODES", "DSN", "AUTH LOGIN",
                   "STARTTLS", "HELP"))
    t.client(b"AUTH LOGIN\r\n", delay=4.05)
    t.server(b"334 VXNlcm5hbWU6\r\n")
    t.client(b"dmFzaWFwdXBraW4=\r\n", delay=3.48)
    t.server(b"334 UGFzc3dvcmQ6\r\n")
    t.client(b"MTIzNDU2\r\n", delay=2.77)
    t.server(b"235 2.7.0 Authentication successful.\r\n")
    t.client(b"MAIL FROM: vasiapupkin@ya.ru\r\n", delay=5.21)
    t.server(b"250 2.1.0 Sender syntax Ok;\r\n")
    t.client(b"RCPT TO: billy@microsoft.com\r\n", delay=4.13)
    t.server(b"250 2.1.5 Recipient address syntax Ok; rcpt=<billy@microsoft.com>\r\n")
    t.client(b"DATA\r\n", delay=2.02)
    t.server(b"354 Start mail input; end with <CRLF>.<CRLF>\r\n")
    for line, d in ((b"From: Vasia Pupkin <vasiapupkin@mail.ru>", 2.61),
                    (b"To: Billy G <billy@microsoft.com>", 1.94),
                    (b"Subject: Hello Billy", 1.71),
                    (b"", 0.83),
                    (b"Hello, Billy! You'll die tomorrow!", 3.35),
                    (b".", 1.12)):
        t.client(line + b"\r\n", delay=d, ack=True)
    t.server(b"250 2.0.0 accepted; S10436885AbZBBKvs\r\n")
    t.client(b"QUIT\r\n", delay=2.46)
    t.server(b"221 2.0.0 smtp18.yandex.ru Out\r\n")
    t.close(first="server")


# ------------------------------------------------------------------ b: relay
def dkim_relaxed_body_hash(body):
    """RFC 6376 §3.4.4 relaxed body canonicalization, SHA-256, base64."""
    lines = body.split(b"\r\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for ln in lines:
        ln = b" ".join(ln.replace(b"\t", b" ").split(b" "))
        while b"  " in ln:
            ln = ln.replace(b"  ", b" ")
        out.append(ln.rstrip(b" "))
    while out and out[-1] == b"":
        out.pop()
    canon = b"".join(x + b"\r\n" for x in out)
    return base64.b64encode(hashlib.sha256(canon).digest()).decode()


def fold_b64(prefix, b64, width=72, indent="\t "):
    lines, cur = [], prefix
    for ch in b64:
        if len(cur) >= width:
            lines.append(cur)
            cur = indent
        cur += ch
    lines.append(cur)
    return "\n".join(lines)


def message_b1(rng):
    boundary = "=_b1_5f3c9e0a"
    subj1 = base64.b64encode("Ежемесячный ".encode()).decode()
    subj2 = base64.b64encode("отчёт за январь".encode()).decode()
    text = ("Здравствуйте, Иван!\n\n"
            "Во вложении ежемесячный отчёт за январь 2009 года.\n"
            "Итоги: 1 204 новых подписчика, 37 отписок.\n\n"
            ".NET-встреча переносится на пятницу, 6 февраля.\n\n"
            "-- \nРассылка example.org\n")
    qp = quopri.encodestring(crlf(text)).decode("ascii")
    # a small, deterministic stand-in for a PDF
    pdf = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
           b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
           b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>\nendobj\n"
           b"4 0 obj\n<< /Length 1200 /Filter /FlateDecode >>\nstream\n"
           + bytes(rng.randrange(256) for _ in range(1200))
           + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
    b64 = base64.encodebytes(pdf).decode("ascii")
    fname_2047 = "=?UTF-8?B?%s?=" % base64.b64encode("отчёт-2009-01.pdf".encode()).decode()
    fname_2231 = "UTF-8''" + "".join("%%%02X" % b if b > 0x7E or b in b" %'*" else chr(b)
                                     for b in "отчёт-2009-01.pdf".encode())
    body = (
        "This is a multi-part message in MIME format.\n\n"
        "--%s\n"
        "Content-Type: text/plain; charset=UTF-8\n"
        "Content-Transfer-Encoding: quoted-printable\n\n"
        "%s\n"
        "--%s\n"
        "Content-Type: application/pdf;\n name=\"%s\"\n"
        "Content-Transfer-Encoding: base64\n"
        "Content-Disposition: attachment;\n filename*=%s\n\n"
        "%s"
        "--%s--\n" % (boundary, qp.replace("\r\n", "\n").rstrip("\n"), boundary, fname_2047,
                      fname_2231, b64, boundary))
    body_b = crlf(body)
    bh = dkim_relaxed_body_hash(body_b)
    sig = base64.b64encode(bytes(rng.randrange(256) for _ in range(128))).decode()  # not a real signature
    headers = (
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org;\n"
        "\ts=mail2009; t=1233571650;\n"
        "\th=from:to:subject:date:message-id:mime-version:content-type;\n"
        "\tbh=%s;\n"
        "%s\n"
        "Received: from [10.1.2.3] (office.example.org [10.1.2.3])\n"
        "\tby mail.example.org (Postfix) with ESMTPSA id 6A2E03C1F7\n"
        "\tfor <ivan@example.com>; Mon,  2 Feb 2009 10:47:29 +0000 (UTC)\n"
        "From: =?UTF-8?B?%s?= <news@example.org>\n"
        "To: Ivan Petrov <ivan@example.com>, nobody@example.com\n"
        "Subject: =?UTF-8?B?%s?=\n =?UTF-8?B?%s?=\n"
        "Date: Mon, 02 Feb 2009 10:47:29 +0000\n"
        "Message-ID: <20090202104729.6A2E03C1F7@mail.example.org>\n"
        "List-Unsubscribe: <mailto:unsubscribe@bounce.example.org?subject=ivan%%40example.com>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/mixed;\n boundary=\"%s\"\n\n"
        % (bh, fold_b64("\tb=", sig), base64.b64encode("Рассылка Example".encode()).decode(),
           subj1, subj2, boundary))
    return crlf(headers) + body_b


def message_b2():
    return crlf(
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org;\n"
        "\ts=mail2009; t=1233571652; h=from:to:subject:date:message-id;\n"
        "\tbh=%s;\n"
        "\tb=Qm9ndXMgc2lnbmF0dXJlIGZvciB0aGUgc210cHNjb3BlIGRlbW8sIG5vdCB2ZXJpZmlhYmxlLg==\n"
        "From: Example Billing <billing@example.org>\n"
        "To: Ivan Petrov <ivan@example.com>\n"
        "Subject: Invoice 2009-0117\n"
        "Date: Mon, 02 Feb 2009 10:47:31 +0000\n"
        "Message-ID: <20090202104731.7B3F14D208@mail.example.org>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=us-ascii\n\n"
        "Dear Ivan,\n\nyour invoice 2009-0117 over EUR 49.00 is available in your account.\n\n"
        "Example.org billing\n"
        % dkim_relaxed_body_hash(crlf("Dear Ivan,\n\nyour invoice 2009-0117 over EUR 49.00 is "
                                      "available in your account.\n\nExample.org billing\n")))


def session_b(pc, rng):
    t = Tcp(pc, client=("198.51.100.25", 41822), server=("203.0.113.10", 25), t0=T + 6.48,
            isn=(MOD32 - 4096, 0x1F6A0C55), rtt=0.018, seed=SEED + 2)
    t.handshake()
    t.server(b"220 mx.example.com ESMTP Postfix\r\n")
    t.client(b"EHLO mail.example.org\r\n")
    t.server(reply(250, "mx.example.com", "PIPELINING", "SIZE 10240000", "VRFY", "ETRN",
                   "ENHANCEDSTATUSCODES", "8BITMIME", "DSN"))
    m1 = message_b1(rng)
    t.client(smtp_lines("MAIL FROM:<newsletter@bounce.example.org> SIZE=%d BODY=8BITMIME" % len(m1),
                        "RCPT TO:<ivan@example.com> NOTIFY=NEVER",
                        "RCPT TO:<nobody@example.com> NOTIFY=NEVER",
                        "DATA"))
    t.server(smtp_lines("250 2.1.0 Ok", "250 2.1.5 Ok",
                        "550 5.1.1 <nobody@example.com>: Recipient address rejected: "
                        "User unknown in local recipient table",
                        "354 End data with <CR><LF>.<CR><LF>"))
    # the message: segments 1 and 2 swapped on the wire, segment 3 retransmitted
    t.client(dot_stuff(m1), swap=[(1, 2)], dup=[3])
    t.server(b"250 2.0.0 Ok: queued as 4F2A81C3B\r\n")
    t.client(b"RSET\r\n")
    t.server(b"250 2.0.0 Ok\r\n")
    m2 = message_b2()
    t.client(smtp_lines("MAIL FROM:<billing@bounce.example.org> SIZE=%d" % len(m2),
                        "RCPT TO:<ivan@example.com>", "DATA"))
    t.server(smtp_lines("250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>"))
    t.client(dot_stuff(m2))
    t.server(b"250 2.0.0 Ok: queued as 5C1D92E7A\r\n")
    t.client(b"QUIT\r\n")
    t.server(b"221 2.0.0 Bye\r\n")
    t.close(first="client")


# ------------------------------------------------------------------ c: IPv6 submission
def session_c(pc):
    t = Tcp(pc, client=("2001:db8:1::77", 52107), server=("2001:db8:25::25", 587), t0=T + 14.03,
            rtt=0.041, seed=SEED + 3)
    t.handshake()
    t.server(b"220 smtp.example.net ESMTP Exim 4.69 Mon, 02 Feb 2009 10:47:36 +0000\r\n")
    t.client(b"EHLO alice-pc.example.net\r\n")
    t.server(reply(250, "smtp.example.net Hello alice-pc.example.net [2001:db8:1::77]",
                   "SIZE 52428800", "PIPELINING", "AUTH PLAIN LOGIN", "STARTTLS", "HELP"))
    # a stale password first, inline PLAIN: \0alice@example.net\0secret
    t.client(b"AUTH PLAIN AGFsaWNlQGV4YW1wbGUubmV0AHNlY3JldA==\r\n")
    t.server(b"535 Incorrect authentication data\r\n", delay=2.05)
    t.client(b"AUTH LOGIN\r\n", delay=0.004)
    t.server(b"334 VXNlcm5hbWU6\r\n")
    t.client(b"YWxpY2VAZXhhbXBsZS5uZXQ=\r\n")          # alice@example.net
    t.server(b"334 UGFzc3dvcmQ6\r\n")
    t.client(b"V29uZGVybGFuZC0yMDA5\r\n")              # Wonderland-2009
    t.server(b"235 Authentication succeeded\r\n")
    t.client(b"MAIL FROM:<alice@example.net>\r\n")
    t.server(b"250 OK\r\n")
    t.client(b"RCPT TO:<victim@example.com>\r\n")
    t.server(b"250 Accepted\r\n")
    t.client(b"DATA\r\n")
    t.server(b"354 Enter message, ending with \".\" on a line by itself\r\n")
    msg = crlf(
        "Message-ID: <4986CF2E.4030607@example.net>\n"
        "Date: Mon, 02 Feb 2009 10:47:38 +0000\n"
        "From: \"support@paypal.com\" <alice@example.net>\n"
        "User-Agent: Thunderbird 2.0.0.19 (Windows/20081209)\n"
        "MIME-Version: 1.0\n"
        "To: victim@example.com\n"
        "Reply-To: PayPal Account Review <review@paypal-secure-help.com>\n"
        "Subject: Your account has been limited\n"
        "Content-Type: text/plain; charset=ISO-8859-1; format=flowed\n"
        "Content-Transfer-Encoding: 7bit\n\n"
        "Dear PayPal customer,\n\n"
        "we noticed unusual activity on your account and have limited it.\n"
        "Please confirm your details within 48 hours at\n"
        "http://paypal-secure-help.com/cgi-bin/webscr?cmd=_login-run\n\n"
        "PayPal Account Review Department\n")
    t.client(dot_stuff(msg))
    t.server(b"250 OK id=1LU3xY-0001ab-9Q\r\n")
    t.client(b"QUIT\r\n")
    t.server(b"221 smtp.example.net closing connection\r\n")
    t.close(first="server")


# ------------------------------------------------------------------ d: BDAT on a VLAN
def session_d(pc):
    t = Tcp(pc, client=("10.20.30.40", 39950), server=("10.20.30.50", 25), t0=T + 21.37,
            vlan=[100], rtt=0.0006, ttl=(64, 64), seed=SEED + 4, proc=0.0009)
    t.handshake()
    t.server(b"220 mail.example.com ESMTP\r\n")
    t.client(b"EHLO mx1.example.com\r\n")
    t.server(reply(250, "mail.example.com", "PIPELINING", "SIZE 10240000", "ENHANCEDSTATUSCODES",
                   "8BITMIME", "CHUNKING", "DSN"))
    bnd = "7D1F2.1233571705/mx1.example.com"
    dsn = crlf(
        "Date: Mon,  2 Feb 2009 10:47:43 +0000 (UTC)\n"
        "From: MAILER-DAEMON@mx1.example.com (Mail Delivery System)\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "To: bob@example.com\n"
        "Auto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/report; report-type=delivery-status;\n"
        "\tboundary=\"%(b)s\"\n"
        "Message-Id: <20090202104743.7D1F2@mx1.example.com>\n\n"
        "This is a MIME-encapsulated message.\n\n"
        "--%(b)s\n"
        "Content-Description: Notification\n"
        "Content-Type: text/plain; charset=us-ascii\n\n"
        "This is the mail system at host mx1.example.com.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients.\n\n"
        "<nosuchuser@example.net>: host mx.example.net[192.0.2.80] said: 550 5.1.1\n"
        "    <nosuchuser@example.net>: Recipient address rejected: User unknown (in\n"
        "    reply to RCPT TO command)\n\n"
        "--%(b)s\n"
        "Content-Description: Delivery report\n"
        "Content-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx1.example.com\n"
        "Arrival-Date: Mon,  2 Feb 2009 10:47:40 +0000 (UTC)\n\n"
        "Final-Recipient: rfc822; nosuchuser@example.net\n"
        "Action: failed\n"
        "Status: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <nosuchuser@example.net>: Recipient address\n"
        "    rejected: User unknown\n\n"
        "--%(b)s\n"
        "Content-Description: Undelivered Message Headers\n"
        "Content-Type: text/rfc822-headers\n\n"
        "From: Bob <bob@example.com>\n"
        "To: nosuchuser@example.net\n"
        "Subject: Lunch on Friday?\n"
        "Date: Mon, 02 Feb 2009 10:47:39 +0000\n"
        "Message-ID: <498a1b2c.5060009@example.com>\n\n"
        "--%(b)s--\n" % {"b": bnd})
    t.client(b"MAIL FROM:<>\r\n")
    t.server(b"250 2.1.0 Ok\r\n")
    t.client(b"RCPT TO:<bob@example.com>\r\n")
    t.server(b"250 2.1.5 Ok\r\n")
    # the first chunk ends in the middle of a line
    cut = dsn.index(b"be delivered") + 6
    c1, c2 = dsn[:cut], dsn[cut:]
    t.client(b"BDAT %d\r\n" % len(c1) + c1)
    t.server(b"250 2.0.0 %d octets received\r\n" % len(c1))
    t.client(b"BDAT %d LAST\r\n" % len(c2) + c2)
    t.server(b"250 2.0.0 Ok: %d octets queued as 8E4A1C0F3\r\n" % len(dsn))
    # second transaction right away (no RSET), pipelined envelope, BDAT 0 LAST
    t.client(smtp_lines("MAIL FROM:<postmaster@example.com>", "RCPT TO:<carol@example.com>"))
    t.server(smtp_lines("250 2.1.0 Ok", "250 2.1.5 Ok"))
    note = crlf(
        "From: Postmaster <postmaster@example.com>\n"
        "To: Carol <carol@example.com>\n"
        "Subject: Mailbox quota warning\n"
        "Date: Mon, 02 Feb 2009 10:47:45 +0000\n"
        "Message-ID: <20090202104745.9A0B1@mx1.example.com>\n\n"
        "Your mailbox is at 91% of its quota.\n"
        "With BDAT, the next line is message text, not the end of the data:\n"
        ".\n"
        "..and a line that starts with two dots stays as it is.\n")
    t.client(b"BDAT %d\r\n" % len(note) + note)
    t.server(b"250 2.0.0 %d octets received\r\n" % len(note))
    t.client(b"BDAT 0 LAST\r\n")
    t.server(b"250 2.0.0 Ok: %d octets queued as 9A0B1D22C\r\n" % len(note))
    t.client(b"QUIT\r\n")
    t.server(b"221 2.0.0 Bye\r\n")
    t.close(first="client")


# ------------------------------------------------------------------ e: STARTTLS
def tls_record(ctype, body):
    return bytes([ctype, 3, 1]) + len(body).to_bytes(2, "big") + body


def tls_handshake(htype, body):
    return bytes([htype]) + len(body).to_bytes(3, "big") + body


def session_e(pc, rng):
    t = Tcp(pc, client=("198.51.100.99", 45213), server=("203.0.113.10", 25), t0=T + 30.81,
            isn=(0x0A0B0C0D, MOD32 - 700), rtt=0.024, seed=SEED + 5)
    t.handshake()
    t.server(b"220 mx.example.com ESMTP Postfix\r\n")
    t.client(b"EHLO relay.example.net\r\n")
    t.server(reply(250, "mx.example.com", "PIPELINING", "SIZE 10240000", "STARTTLS",
                   "ENHANCEDSTATUSCODES", "8BITMIME", "DSN"))
    t.client(b"STARTTLS\r\n")
    t.server(b"220 2.0.0 Ready to start TLS\r\n")
    rnd = lambda n: bytes(rng.randrange(256) for _ in range(n))  # noqa: E731
    sid = rnd(32)
    sni = b"mx.example.com"
    exts = (b"\x00\x00" + (len(sni) + 5).to_bytes(2, "big") + (len(sni) + 3).to_bytes(2, "big")
            + b"\x00" + len(sni).to_bytes(2, "big") + sni
            + b"\xff\x01\x00\x01\x00"          # renegotiation_info
            + b"\x00\x23\x00\x00")             # session_ticket
    suites = bytes.fromhex("c00ac014003900380035c007c009c011c0130033003200050004002f000a")
    ch = (b"\x03\x01" + rnd(32) + bytes([32]) + sid + len(suites).to_bytes(2, "big") + suites
          + b"\x01\x00" + len(exts).to_bytes(2, "big") + exts)
    t.client(tls_record(22, tls_handshake(1, ch)))
    sh = (b"\x03\x01" + rnd(32) + bytes([32]) + sid + b"\x00\x2f" + b"\x00"
          + b"\x00\x05\xff\x01\x00\x01\x00")
    t.server(tls_record(22, tls_handshake(2, sh)) + tls_record(20, b"\x01") + tls_record(22, rnd(48)))
    t.client(tls_record(20, b"\x01") + tls_record(22, rnd(48)))
    # encrypted SMTP: EHLO, MAIL, RCPT, DATA, the message, QUIT (lengths only)
    t.client(tls_record(23, rnd(48)))
    t.server(tls_record(23, rnd(176)))
    t.client(tls_record(23, rnd(96)))
    t.server(tls_record(23, rnd(64)) + tls_record(23, rnd(64)) + tls_record(23, rnd(80)))
    t.client(tls_record(23, rnd(1952)) + tls_record(23, rnd(32)))
    t.server(tls_record(23, rnd(64)))
    t.client(tls_record(23, rnd(32)))
    t.server(tls_record(23, rnd(48)))
    t.client(tls_record(21, rnd(32)))
    t.close(first="client")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "captures", "demo.pcap")
    rng = random.Random(SEED)
    with Pcap(out, LINKTYPE_ETHERNET, seed=SEED) as pc:
        session_a(pc)
        session_b(pc, rng)
        session_c(pc)
        session_d(pc)
        session_e(pc, rng)
    return 0


if __name__ == "__main__":
    sys.exit(main())
