#!/usr/bin/python3
"""tls_gen.py — a TLS benchmark input: many SMTP-over-TLS sessions and their key log.

    bench/tls_gen.py OUT.pcap OUT.keys [--sessions 200] [--size 32768] [--seed 1]

Each session is a real TLS connection made by Python's ssl module (OpenSSL) in
memory: a client SSLObject (keylog_filename = OUT.keys) and a server SSLObject
(the lab certificate tests/tls/certs/mail) exchange their records through
MemoryBIOs; the bytes each side writes become TCP segments of one connection
(SYN, data in segments of at most 16 KiB with correct seq/ack, FIN), written to
a classic pcap. No root, no sockets, no capture loss, same output for the same
seed apart from the TLS randoms. Sessions alternate:

    even: STARTTLS on port 587, TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256
    odd:  implicit TLS on port 465, TLS 1.3 TLS_AES_256_GCM_SHA384

and each carries EHLO, AUTH PLAIN, MAIL FROM, two RCPT TO, a message of --size
bytes (headers + base64-looking body lines) and QUIT, with the server's replies.

For the benchmark (not wired into `make bench` yet):

    bench/tls_gen.py /tmp/tls.pcap /tmp/tls.keys
    time ./smtpscope -r /tmp/tls.pcap --tls-keylog /tmp/tls.keys --json=/dev/null
    time tshark -r /tmp/tls.pcap -o tls.keylog_file:/tmp/tls.keys -Y smtp.req.command -T fields -e smtp.req.command >/dev/null

decrypted MB/s = the application-data bytes (printed at the end) / the time.
The transaction count to check against is --sessions (every message is
accepted with 250).
"""

import base64
import os
import random
import ssl
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CERT = os.path.join(ROOT, "tests", "tls", "certs", "mail.chain.pem")
KEY = os.path.join(ROOT, "tests", "tls", "certs", "mail.key")
MSS = 16384


class Pcap:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1))  # LINKTYPE_ETHERNET
        self.ts = 1764763200.0  # 2025-12-03T12:00:00Z
        self.n = 0

    def packet(self, frame):
        self.ts += 0.0001
        sec = int(self.ts)
        usec = int(round((self.ts - sec) * 1e6)) % 1000000
        self.f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
        self.f.write(frame)
        self.n += 1

    def close(self):
        self.f.close()


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


class Conn:
    """one TCP connection between 10.1.x.y:port and 10.2.0.1:sport, written to the pcap"""

    def __init__(self, pcap, idx, sport):
        self.pcap = pcap
        self.cip = bytes([10, 1, (idx >> 8) & 0xff, idx & 0xff])
        self.sip = bytes([10, 2, 0, 1])
        self.cport = 20000 + idx % 40000
        self.sport = sport
        self.seq = [random.getrandbits(32), random.getrandbits(32)]
        self.seg(0, b"", 0x02)
        self.seq[0] += 1
        self.seg(1, b"", 0x12)
        self.seq[1] += 1
        self.seg(0, b"", 0x10)

    def seg(self, d, payload, flags=0x18):
        src, dst = (self.cip, self.sip) if d == 0 else (self.sip, self.cip)
        sp, dp = (self.cport, self.sport) if d == 0 else (self.sport, self.cport)
        ack = self.seq[1 - d] if flags != 0x02 else 0
        tcp = struct.pack("!HHIIBBHHH", sp, dp, self.seq[d] & 0xffffffff, ack & 0xffffffff, 5 << 4, flags, 65535, 0,
                          0)
        ph = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
        c = csum(ph + tcp + payload)
        tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
        if d == 1:
            eth = b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02" + b"\x08\x00"
        self.pcap.packet(eth + ip + tcp + payload)

    def send(self, d, data):
        for i in range(0, len(data), MSS):
            chunk = data[i:i + MSS]
            self.seg(d, chunk)
            self.seq[d] += len(chunk)

    def close(self):
        self.seg(0, b"", 0x11)
        self.seq[0] += 1
        self.seg(1, b"", 0x11)
        self.seq[1] += 1
        self.seg(0, b"", 0x10)


class TLSPair:
    def __init__(self, cctx, sctx, sni):
        self.cin, self.cout, self.sin, self.sout = (ssl.MemoryBIO() for _ in range(4))
        self.c = cctx.wrap_bio(self.cin, self.cout, server_side=False, server_hostname=sni)
        self.s = sctx.wrap_bio(self.sin, self.sout, server_side=True)

    def handshake(self, conn):
        cdone = sdone = False
        while not (cdone and sdone):
            if not cdone:
                try:
                    self.c.do_handshake()
                    cdone = True
                except ssl.SSLWantReadError:
                    pass
            self.flush(conn)
            if not sdone:
                try:
                    self.s.do_handshake()
                    sdone = True
                except ssl.SSLWantReadError:
                    pass
            self.flush(conn)

    def flush(self, conn):
        """move what each side wrote to the other, and onto the wire"""
        for d, out, inn in ((0, self.cout, self.sin), (1, self.sout, self.cin)):
            b = out.read()
            if b:
                conn.send(d, b)
                inn.write(b)

    def talk(self, conn, d, data):
        (self.c if d == 0 else self.s).write(data)
        self.flush(conn)
        other = self.s if d == 0 else self.c
        got = b""
        while True:
            try:
                got += other.read(1 << 20)
            except ssl.SSLWantReadError:
                break
            self.flush(conn)
        return got


def message(i, size, rnd):
    head = ("From: Bench Sender <sender%d@header.example>\r\nTo: <rcpt%d@dest.example>\r\n"
            "Subject: bench message %d\r\nMessage-ID: <bench.%d@lab.test>\r\n\r\n") % (i, i, i, i)
    body = []
    n = len(head)
    while n < size:
        line = base64.b64encode(rnd.randbytes(57)).decode() + "\r\n"
        body.append(line)
        n += len(line)
    return (head + "".join(body)).encode()


def session(pcap, i, size, keylog, rnd, stats):
    tls13 = i % 2 == 1
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    cctx.keylog_filename = keylog
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(CERT, KEY)
    if tls13:
        sctx.minimum_version = ssl.TLSVersion.TLSv1_3
        cctx.set_ciphers("DEFAULT")  # TLS 1.3 suites: OpenSSL's default order, AES-256-GCM first
    else:
        sctx.maximum_version = ssl.TLSVersion.TLSv1_2
        sctx.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")
    conn = Conn(pcap, i, 465 if tls13 else 587)
    user = "bench%d" % i
    dialogue = [
        (0, b"EHLO client%d.bench.example\r\n" % i, b"250-mx.bench.example\r\n250-AUTH PLAIN\r\n250 SIZE 10000000\r\n"),
        (0, b"AUTH PLAIN " + base64.b64encode(b"\0" + user.encode() + b"\0pw") + b"\r\n",
         b"235 2.7.0 Authentication successful\r\n"),
        (0, b"MAIL FROM:<bounce%d@sender.example>\r\n" % i, b"250 2.1.0 Ok\r\n"),
        (0, b"RCPT TO:<a%d@dest.example>\r\n" % i, b"250 2.1.5 Ok\r\n"),
        (0, b"RCPT TO:<b%d@dest.example>\r\n" % i, b"250 2.1.5 Ok\r\n"),
        (0, b"DATA\r\n", b"354 End data with <CR><LF>.<CR><LF>\r\n"),
        (0, message(i, size, rnd) + b".\r\n", b"250 2.0.0 Ok: queued as B%d\r\n" % i),
        (0, b"QUIT\r\n", b"221 2.0.0 Bye\r\n"),
    ]
    if not tls13:
        conn.send(1, b"220 mx.bench.example ESMTP\r\n")
        conn.send(0, b"EHLO client%d.bench.example\r\n" % i)
        conn.send(1, b"250-mx.bench.example\r\n250-STARTTLS\r\n250 SIZE 10000000\r\n")
        conn.send(0, b"STARTTLS\r\n")
        conn.send(1, b"220 2.0.0 Ready to start TLS\r\n")
    pair = TLSPair(cctx, sctx, "mail.lab.test")
    pair.handshake(conn)
    if tls13:
        pair.talk(conn, 1, b"220 mx.bench.example ESMTP\r\n")
    for d, cmd, reply in dialogue:
        if len(cmd) > 16000:
            # the message in writes of whole lines (< 16 KiB: one TLS record each),
            # as an MTA writing its line buffer does; tshark's SMTP finds the end
            # of data only when no line straddles two TLS records
            got = b""
            lines = cmd.split(b"\r\n")[:-1]
            buf = b""
            for ln in lines:
                if len(buf) + len(ln) + 2 > 16000:
                    got += pair.talk(conn, 0, buf)
                    buf = b""
                buf += ln + b"\r\n"
            got += pair.talk(conn, 0, buf)
            assert got == cmd, "the server did not read what the client wrote"
            pair.talk(conn, 1, reply)
            stats[0] += len(cmd) + len(reply)
            continue
        got = pair.talk(conn, 0, cmd)
        assert got == cmd, "the server did not read what the client wrote"
        pair.talk(conn, 1, reply)
        stats[0] += len(cmd) + len(reply)
    conn.close()


def main():
    a = sys.argv[1:]
    if len(a) < 2:
        sys.exit(__doc__)
    out, keys = a[0], a[1]
    opts = dict(zip(a[2::2], a[3::2]))
    n = int(opts.get("--sessions", 200))
    size = int(opts.get("--size", 32768))
    rnd = random.Random(int(opts.get("--seed", 1)))
    random.seed(int(opts.get("--seed", 1)))
    if os.path.exists(keys):
        os.unlink(keys)
    pcap = Pcap(out)
    stats = [0]
    for i in range(n):
        session(pcap, i, size, keys, rnd, stats)
    pcap.close()
    print("tls_gen: %s: %d sessions, %d packets, %d bytes; %d bytes of SMTP inside TLS; key log %s"
          % (out, n, pcap.n, os.path.getsize(out), stats[0], keys))


if __name__ == "__main__":
    main()
