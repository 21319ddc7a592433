#!/usr/bin/env python3
"""Captures for tests/t_tls_int.sh: the STARTTLS findings and the TLS ports
(made with scripts/pcapgen.py; deterministic). Usage: gen.py OUTDIR"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from pcapgen import Pcap, Tcp, LINKTYPE_ETHERNET  # noqa: E402

out = sys.argv[1]
# a TLS record that looks like the start of a ClientHello (the content does
# not matter to these tests: no keys, the handshake parser just sees a hello)
HELLO = bytes([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00])
GREET = b"220 mx.example.org ESMTP\r\n"


def session(name, steps, port=25, tls_first=False):
    with Pcap(os.path.join(out, name + ".pcap"), LINKTYPE_ETHERNET, seed=1) as pc:
        t = Tcp(pc, client=("192.0.2.1", 40000), server=("198.51.100.2", port), t0=1780000000.0,
                isn=(1000, 5000))
        t.handshake()
        for side, data in steps:
            (t.client if side == "c" else t.server)(data)
        t.close()


ehlo = [("s", GREET), ("c", b"EHLO c.example\r\n")]
mail = [("c", b"MAIL FROM:<a@example.net>\r\n"), ("s", b"250 ok\r\n"),
        ("c", b"RCPT TO:<b@example.org>\r\n"), ("s", b"250 ok\r\n"),
        ("c", b"QUIT\r\n"), ("s", b"221 bye\r\n")]
# an inspecting middlebox masked STARTTLS (Cisco ESMTP inspection)
session("masked", ehlo + [("s", b"250-mx.example.org\r\n250-XXXXXXXA\r\n250 8BITMIME\r\n")] + mail)
# near miss: another 8-letter keyword
session("masked_near", ehlo + [("s", b"250-mx.example.org\r\n250-XFORWARD\r\n250 8BITMIME\r\n")] + mail)
# STARTTLS advertised, refused, the client goes on in clear
adv = [("s", b"250-mx.example.org\r\n250 STARTTLS\r\n"), ("c", b"STARTTLS\r\n")]
session("refused", ehlo + adv + [("s", b"454 4.7.0 TLS not available\r\n")] + mail)
# near miss: the client gives up
session("refused_quit", ehlo + adv + [("s", b"454 4.7.0 TLS not available\r\n"), ("c", b"QUIT\r\n"),
                                      ("s", b"221 bye\r\n")])
# 220 to STARTTLS, then no TLS: plain SMTP, and bytes that are neither
session("nohs_plain", ehlo + adv + [("s", b"220 go ahead\r\n")] + ehlo[1:] +
        [("s", b"250 mx.example.org\r\n")] + mail)
session("nohs_junk", ehlo + adv + [("s", b"220 go ahead\r\n"), ("c", b"\x00\x01\x02\x03garbage")])
# commands pipelined after STARTTLS in the same write (CVE-2011-0411)
session("inject", ehlo + [("s", b"250-mx.example.org\r\n250 STARTTLS\r\n"),
                          ("c", b"STARTTLS\r\nRSET\r\nMAIL FROM:<x@evil.example>\r\n"),
                          ("s", b"220 go ahead\r\n"), ("c", HELLO)])
# near miss: the ClientHello right behind STARTTLS (held, handed to TLS)
session("inject_near", ehlo + [("s", b"250-mx.example.org\r\n250 STARTTLS\r\n"),
                               ("c", b"STARTTLS\r\n" + HELLO), ("s", b"220 go ahead\r\n")])
# port 465 in cleartext (not what RFC 8314 expects), and implicit TLS on 2465
session("p465_clear", ehlo + [("s", b"250 mx.example.org\r\n")] + mail, port=465)
session("p2465_tls", [("c", HELLO)], port=2465)
session("p2465_clear", ehlo + [("s", b"250 mx.example.org\r\n")] + mail, port=2465)
