#!/usr/bin/env python3
"""Build captures/escape.pcap: SMTP sessions whose commands, replies and
message headers carry terminal control sequences, for the UI and text-output
escaping tests (tests/t_ui.sh). Deterministic: same bytes on every run.

    python3 scripts/gen_escape.py [OUTPUT]     (default: captures/escape.pcap)

Session 1 (port 25): a HELO, MAIL FROM, RCPT TO and AUTH LOGIN username with
ESC sequences (clear screen "\\x1b[2J", OSC set-title "\\x1b]0;pwned\\x07",
cursor home, an 8-bit CSI C1 control U+009B), a NUL byte and DEL; a message
whose From: display name is Cyrillic, To: name CJK, and whose Subject carries
an RFC 2047 word that decodes to an ESC sequence plus a raw OSC title string.
Session 2 (port 587): a server greeting and replies with escapes, and a
Subject with a bidi override (U+202E) and raw C1 bytes.

Anything printed from this capture must show the escapes as text (\\x1b),
never act on them: the terminal title must not change, the screen must not
be cleared.
"""

import base64
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pcapgen import LINKTYPE_ETHERNET, Pcap, Tcp, dot_stuff, reply  # noqa: E402

SEED = 27
T = 1700000000.0  # 2023-11-14T22:13:20Z

ESC_CLEAR = b"\x1b[2J\x1b[H"
ESC_TITLE = b"\x1b]0;pwned\x07"
C1_CSI = "\u009b".encode("utf-8")  # C1 control as UTF-8 (c2 9b)


def b64(x):
    return base64.b64encode(x)


def session_1(pc):
    t = Tcp(pc, client=("192.0.2.66", 40066), server=("198.51.100.25", 25), t0=T, seed=SEED + 1)
    t.handshake()
    t.server(b"220 mx.example.com ESMTP\r\n")
    t.client(b"EHLO evil" + ESC_TITLE + b".example\r\n")
    t.server(reply(250, "mx.example.com", "PIPELINING", "AUTH LOGIN PLAIN", "8BITMIME"))
    t.client(b"AUTH LOGIN\r\n")
    t.server(b"334 VXNlcm5hbWU6\r\n")
    t.client(b64(b"mallory" + ESC_CLEAR + b"\x00root") + b"\r\n")
    t.server(b"334 UGFzc3dvcmQ6\r\n")
    t.client(b64(b"hunter2" + ESC_TITLE) + b"\r\n")
    t.server(b"235 2.7.0 Authentication successful\r\n")
    t.client(b"MAIL FROM:<a" + ESC_CLEAR + b"@evil.example>\r\n")
    t.server(b"250 2.1.0 Ok\r\n")
    t.client(b"RCPT TO:<victim" + C1_CSI + b"31m\x7f@example.com>\r\n")
    t.server(b"250 2.1.5 Ok\r\n")
    t.client(b"DATA\r\n")
    t.server(b"354 End data with <CR><LF>.<CR><LF>\r\n")
    subj_word = "=?UTF-8?B?" + b64(b"Invoice " + ESC_CLEAR + b"paid").decode() + "?="
    msg = (
        "From: =?UTF-8?B?" + b64("Иван Петров".encode()).decode() + "?= <ivan@evil.example>\r\n"
        "To: =?UTF-8?B?" + b64("山田太郎".encode()).decode() + "?= <victim@example.com>\r\n"
        "Subject: " + subj_word + " \x1b]0;pwned\x07 \u009b2J done\r\n"
        "Date: Tue, 14 Nov 2023 22:13:21 +0000\r\n"
        "Message-ID: <esc1@evil.example>\r\n"
        "\r\n"
        "Body with \x1b[5m blink and a NUL \x00 byte.\r\n"
    ).encode("utf-8")
    t.client(dot_stuff(msg))
    t.server(b"250 2.0.0 Ok: queued as ESC1\r\n")
    t.client(b"QUIT\r\n")
    t.server(b"221 2.0.0 Bye\r\n")
    t.close()


def session_2(pc):
    t = Tcp(pc, client=("192.0.2.67", 40067), server=("198.51.100.26", 587), t0=T + 2, seed=SEED + 2)
    t.handshake()
    t.server(b"220 mail" + ESC_TITLE + b" ESMTP \x1b[31mred\x1b[0m\r\n")
    t.client(b"EHLO \xe5\xb1\xb1\xe7\x94\xb0.example\r\n")  # 山田 (UTF-8 HELO)
    t.server(reply(250, "mail.example", "8BITMIME"))
    t.client(b"MAIL FROM:<news@example.org>\r\n")
    t.server(b"250 Ok \x1b[2J\r\n")
    t.client(b"RCPT TO:<bob@example.com>\r\n")
    t.server(b"250 Ok\r\n")
    t.client(b"DATA\r\n")
    t.server(b"354 go ahead\r\n")
    msg = (
        b"From: \"\xe7\x8e\x8b\xe5\xb0\x8f\xe6\x98\x8e\" <wang@example.org>\r\n"   # 王小明, raw UTF-8
        b"To: bob@example.com\r\n"
        b"Subject: \xe2\x80\xaeKCART \x9b\x31\x6d C1 \x85 NEL\r\n"                  # RLO, raw C1 bytes
        b"\r\n"
        b"hi\r\n"
    )
    t.client(dot_stuff(msg))
    t.server(b"250 Ok queued\r\n")
    t.client(b"QUIT\r\n")
    t.server(b"221 Bye\r\n")
    t.close()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "captures", "escape.pcap")
    with Pcap(out, LINKTYPE_ETHERNET, seed=SEED) as pc:
        session_1(pc)
        session_2(pc)


if __name__ == "__main__":
    main()
