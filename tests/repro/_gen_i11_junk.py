"""Generator for tests/repro/i11_junk_segments.py (issue 12, item 11): junk
TCP segments that carry an SMTP command, and overlaps in every order of
arrival. Writes $REPRO_OUT/i11_junk_segments.pcap (scripts/pcapgen.py from
$SMTPSCOPE_REPO).

Junk, each from a client that sends nothing else (no handshake, no reply):
SYN+FIN, no flags at all, RST with data, FIN+PSH without ACK, each carrying
"MAIL FROM:<NAME@evil.example>". No endpoint takes their bytes as data
(RFC 9293 §3.10.7), so none may open a transaction.

Inside a real session: a segment without ACK carrying
"MAIL FROM:<inject@evil.example>" at exactly the next sequence number,
before the real MAIL FROM: dropped, the real one is the transaction's.

Overlaps (first data wins, docs/design.md): in each session the bytes that
arrive first spell <good-K@example.org>, later copies <evil-K@example.org>;
each session then completes a mail, so its transaction's MAIL FROM says
which bytes won:
  0  an out-of-order half of the command, then all of it with other bytes
  1  all of it in order, then a full retransmission with other bytes
  2  all but its first 5 bytes out of order, then all of it with other bytes
  3  two out-of-order pieces with holes between, then all of it
  4  the second half out of order, the first half in order, then all of it
  5  all of it in two out-of-order pieces (second first), each later
     retransmitted with other bytes, before the in-order start arrives"""
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("SMTPSCOPE_REPO", os.getcwd()), "scripts"))
from pcapgen import LINKTYPE_ETHERNET, Pcap, Tcp, dot_stuff  # noqa: E402

OUT = os.environ.get("REPRO_OUT", os.getcwd())
SERVER = ("198.51.100.2", 25)
JUNK = [("synfin", "SF"), ("noflags", ""), ("rst", "R"), ("finpsh", "FP")]
T0 = 1700000000.0


def junk(pc, k, name, flags):
    t = Tcp(pc, client=("192.0.2.%d" % (10 + k), 40000 + k), server=SERVER, t0=T0 + k, seed=k)
    t.segment("client", 0, b"MAIL FROM:<%s@evil.example>\r\n" % name.encode(), flags=flags)


def rest_of_mail(t, k):
    t.server(b"250 2.1.0 Ok\r\n")
    t.client(b"RCPT TO:<rcpt-%d@example.net>\r\n" % k)
    t.server(b"250 2.1.5 Ok\r\n")
    t.client(b"DATA\r\n")
    t.server(b"354 go\r\n")
    t.client(dot_stuff(b"Subject: overlap %d\r\n\r\nbody\r\n" % k))
    t.server(b"250 2.0.0 queued\r\n")
    t.client(b"QUIT\r\n")
    t.server(b"221 bye\r\n")
    t.close()


def start(pc, k):
    t = Tcp(pc, client=("192.0.2.%d" % (50 + k), 41000 + k), server=SERVER, t0=T0 + 10 + k, seed=100 + k)
    t.handshake()
    t.server(b"220 mx.example.net ESMTP\r\n")
    t.client(b"EHLO client.example\r\n")
    t.server(b"250 mx.example.net\r\n")
    return t


def advance(t, n):
    """The hand-made segments delivered n client bytes: move the sequence on."""
    t.c.nxt += n
    t.s.rcv = t.c.nxt


def injected(pc):
    t = start(pc, 9)
    rel = t.c.nxt - 1
    t.segment("client", rel, b"MAIL FROM:<inject@evil.example>\r\n", flags="")
    t.client(b"MAIL FROM:<real@example.org>\r\n")
    rest_of_mail(t, 9)


def overlap(pc, k):
    t = start(pc, k)
    rel = t.c.nxt - 1
    good = b"MAIL FROM:<good-%d@example.org>\r\n" % k
    evil = b"MAIL FROM:<evil-%d@example.org>\r\n" % k
    assert len(good) == len(evil)
    n = len(good)
    seg = lambda off, data: t.segment("client", rel + off, data)  # noqa: E731
    if k == 0:
        seg(10, good[10:20])
        seg(0, evil)
    elif k == 1:
        seg(0, good)
        seg(0, evil)
    elif k == 2:
        seg(5, good[5:])
        seg(0, evil)
    elif k == 3:
        seg(11, good[11:16])
        seg(20, good[20:25])
        seg(0, evil)
    elif k == 4:
        seg(n // 2, good[n // 2:])
        seg(0, good[:n // 2])
        seg(0, evil)
    elif k == 5:
        seg(20, good[20:])
        seg(10, good[10:20])
        seg(20, evil[20:])
        seg(10, evil[10:20])
        seg(0, evil[:12])
    advance(t, n)
    rest_of_mail(t, k)


with Pcap(os.path.join(OUT, "i11_junk_segments.pcap"), LINKTYPE_ETHERNET, seed=1) as pc:
    for k, (name, flags) in enumerate(JUNK):
        junk(pc, k, name, flags)
    injected(pc)
    for k in range(6):
        overlap(pc, k)
