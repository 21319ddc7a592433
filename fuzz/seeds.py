#!/usr/bin/env python3
"""seeds — build the seed corpora of the libFuzzer targets (fuzz/fuzz_*.c).

    python3 fuzz/seeds.py [--bin ./smtpscope] [--out build-fuzz/seeds] [CAPTURE_OR_DIR ...]

Default inputs: captures/demo.pcap and every *.pcap / *.pcapng / *.pcap.gz
under /work/shared/captures/public (read in place, never written) and
tests/hostile/. Writes OUT/<target>/<sha1> files in each target's input
format (see the comment at the top of each fuzz/fuzz_*.c):

  decode  link-type byte + {u16 caplen, u16 extra, frame} records: runs of
          consecutive frames of each capture (pcap and pcapng parsed here)
  reasm   the client->server stream of each flow (from
          `smtpscope --flows --dump-streams`) cut into segments, some swapped,
          duplicated or overlapping, with a SYN and ACKs
  smtp    both streams of each flow interleaved reply by command
          (greeting, one command, its reply, ...; DATA content as one record)
  imf     the messages found in the client streams (dot-unstuffed)
  codec   AUTH base64 arguments, encoded words, From:/To: field bodies,
          charset names with text, raw lines for the escapers
  tlsdec  the key logs and the records of tests/tls_vectors/ (TLS 1.0-1.2
          lab captures with their master secrets, RFC 8448 with its
          traffic secrets) in fuzz_tlsdec.c's format, and key log text
  tls     the stream files tests/tls/*/*.tlss (lab sessions and FoxIO's JA4
          handshakes) as fuzz_tls.c records, whole and re-cut, with and
          without the key-store flag
  verdict the transactions of each flow as fuzz_verdict.c fields (HELO,
          MAIL FROM, RCPT TO, AUTH PLAIN user, From:/Reply-To:/Sender: field
          bodies, DKIM d=, List-Id) with option bytes; plus hand-written
          transactions for each rule (IDN, look-alikes, address literals)

Deterministic: the same inputs give the same seeds. Standard library only.
"""

import argparse
import base64
import gzip
import hashlib
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DECODE_LINKTYPES = [1, 0, 12, 14, 101, 108, 113, 228, 229, 276, 147]  # fuzz_decode.c LINKTYPES
MAX_SEED = 64 * 1024
MAX_PER_TARGET = 400


def read_capture(path):
    """(linktype, [frame bytes]) of a pcap or pcapng file (gzip allowed)."""
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return None, []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xD4, 0x4D) else ">"
        lt = struct.unpack(e + "I", data[20:24])[0] & 0xFFFF
        frames, off = [], 24
        while off + 16 <= len(data):
            _, _, cap, _ = struct.unpack(e + "IIII", data[off:off + 16])
            off += 16
            if cap > len(data) - off:
                break
            frames.append(data[off:off + cap])
            off += cap
        return lt, frames
    if magic == b"\x0a\x0d\x0d\x0a":  # pcapng
        e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        lts, frames, off, lt0 = [], [], 0, None
        while off + 12 <= len(data):
            btype, blen = struct.unpack(e + "II", data[off:off + 8])
            if blen < 12 or off + blen > len(data):
                break
            body = data[off + 8:off + blen - 4]
            if btype == 0x0A0D0D0A:
                e = "<" if body[:4] == b"\x4d\x3c\x2b\x1a" else ">"
                lts = []
            elif btype == 1 and len(body) >= 2:
                lts.append(struct.unpack(e + "H", body[:2])[0])
                lt0 = lt0 if lt0 is not None else lts[-1]
            elif btype == 6 and len(body) >= 20:
                ifid, _, _, cap, _ = struct.unpack(e + "IIIII", body[:20])
                if ifid < len(lts) and lts[ifid] == lt0:
                    frames.append(body[20:20 + cap])
            elif btype == 3 and len(body) >= 4 and lts and lts[0] == lt0:
                frames.append(body[4:])
            off += blen
        return lt0, frames
    return None, []


def decode_records(lt, frames):
    sel = DECODE_LINKTYPES.index(lt) if lt in DECODE_LINKTYPES else len(DECODE_LINKTYPES) - 1
    out = bytearray([sel])
    for fr in frames:
        fr = fr[:0xFFFF]
        out += struct.pack("<HH", len(fr), 0) + fr
    return bytes(out)


def dump_streams(binary, path, tmp):
    """{flow id: (c2s bytes, s2c bytes)} through smtpscope --dump-streams."""
    d = tempfile.mkdtemp(dir=tmp)
    subprocess.run([binary, "-q", "--flows", "--any-port", "--dump-streams", d, "-r", path],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    flows = {}
    for name in sorted(os.listdir(d)):
        m = re.match(r"f(\d+)\.(c2s|s2c)$", name)
        if not m:
            continue
        with open(os.path.join(d, name), "rb") as f:
            b = f.read()
        c, s = flows.get(int(m.group(1)), (b"", b""))
        flows[int(m.group(1))] = (b, s) if m.group(2) == "c2s" else (c, b)
    shutil.rmtree(d, ignore_errors=True)
    return flows


def lines(b):
    return [m.group(0) for m in re.finditer(rb"[^\n]*\n|[^\n]+$", b)]


def interleave(c2s, s2c):
    """[(dir, bytes)]: greeting, then each command followed by its reply."""
    cl, sl = lines(c2s), lines(s2c)
    out, si, ci = [], 0, 0

    def reply():
        nonlocal si
        chunk = b""
        while si < len(sl):
            ln = sl[si]
            si += 1
            chunk += ln
            if not re.match(rb"^\d{3}-", ln):
                break
        if chunk:
            out.append((1, chunk))
        return chunk

    reply()  # greeting
    while ci < len(cl):
        ln = cl[ci]
        ci += 1
        out.append((0, ln))
        r = reply()
        if re.match(rb"(?i)^DATA\s*$", ln.strip() + b"\n") and r.startswith(b"354"):
            body = b""
            while ci < len(cl):
                body += cl[ci]
                ci += 1
                if cl[ci - 1] in (b".\r\n", b".\n"):
                    break
            out.append((0, body))
            reply()
    while si < len(sl):
        reply()
    return out


def smtp_records(opt, recs):
    out = bytearray([opt])
    for d, b in recs:
        for k in range(0, max(len(b), 1), 0xFFFF):
            part = b[k:k + 0xFFFF]
            out += struct.pack("<BH", d, len(part)) + part
    return bytes(out)


def reasm_records(stream, rng):
    """A stream as segments: SYN, in-order/swapped/duplicated/overlapping data, ACKs, FIN."""
    isn = rng.getrandbits(32)
    segs, off = [], 0
    while off < len(stream):
        n = rng.choice([1, 7, 100, 536, 1460])
        segs.append((off, stream[off:off + n]))
        off += n
    if len(segs) > 2:
        for _ in range(len(segs) // 8 + 1):
            i = rng.randrange(len(segs) - 1)
            segs[i], segs[i + 1] = segs[i + 1], segs[i]
        j = rng.randrange(len(segs))
        segs.append(segs[j])
        o, b = segs[rng.randrange(len(segs))]
        segs.append((o + len(b) // 2, stream[o + len(b) // 2:o + len(b) + 50]))
    out = bytearray(struct.pack("<BIH", 1, isn, 0))
    for o, b in segs:
        out += struct.pack("<BIH", 0, (isn + 1 + o) & 0xFFFFFFFF, len(b)) + b
        if rng.random() < 0.2:
            out += struct.pack("<BIH", 2, (isn + 1 + o) & 0xFFFFFFFF, 0)
    out += struct.pack("<BIH", 4, (isn + 1 + len(stream)) & 0xFFFFFFFF, 0)
    return bytes(out)


def messages(c2s):
    msgs = []
    for m in re.finditer(rb"(?im)^DATA\r?\n(.*?)\r?\n\.\r?\n", c2s, re.S):
        body = re.sub(rb"(?m)^\.\.", b".", m.group(1))
        msgs.append(body + b"\r\n")
    return msgs


def codec_seeds(c2s, s2c):
    out = []
    for m in re.finditer(rb"(?im)^AUTH \S+ ([A-Za-z0-9+/=]+)\r?$", c2s):
        out.append(b"\x00" + m.group(1))
    for m in re.finditer(rb"(?m)^([A-Za-z0-9+/]{4,}={0,2})\r?$", c2s):
        out.append(b"\x00" + m.group(1))
    for m in re.finditer(rb"(?m)^334 (\S+)", s2c):
        out.append(b"\x00" + m.group(1))
    for m in re.finditer(rb"=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=", c2s):
        out.append(b"\x01" + m.group(0))
        cs = m.group(0).split(b"?")[1]
        out.append(b"\x03" + cs + b"\x00" + m.group(0))
    for m in re.finditer(rb"(?im)^(?:From|To|Cc|Reply-To|Sender):(.*(?:\r?\n[ \t].*)*)", c2s):
        out.append(b"\x02" + m.group(1)[:4096])
        out.append(b"\x01" + m.group(1)[:4096])
    for ln in lines(c2s)[:20] + lines(s2c)[:10]:
        out.append(b"\x04" + ln)
        out.append(b"\x05" + ln)
    return out


def header_fields(msg):
    """{lowercased name: [unfolded bodies]} of a message's header block."""
    head = re.split(rb"\r?\n\r?\n", msg, 1)[0]
    out = {}
    for m in re.finditer(rb"(?m)^([!-9;-~]+):(.*(?:\r?\n[ \t].*)*)", head):
        body = re.sub(rb"\r?\n", b"", m.group(2)).strip()
        out.setdefault(m.group(1).lower(), []).append(body)
    return out


def verdict_seeds(c2s, s2c, rng):
    """The transactions of one flow in fuzz_verdict.c's input format."""
    helo, auth, seeds = None, None, []
    opt0 = (4 if re.search(rb"(?im)^250[ -]STARTTLS", s2c) else 0) | (8 if re.search(rb"(?im)^STARTTLS", c2s) else 0)
    m = re.search(rb"(?im)^(?:EHLO|HELO) ?([^\r\n]*)", c2s)
    if m:
        helo = m.group(1)
    m = re.search(rb"(?im)^AUTH PLAIN ([A-Za-z0-9+/=]+)\r?$", c2s)
    if m:
        try:
            parts = base64.b64decode(m.group(1), validate=False).split(b"\0")
            auth = parts[1] if len(parts) > 2 else None
        except ValueError:
            auth = None
    msgs = messages(c2s)
    for k, m in enumerate(re.finditer(rb"(?im)^MAIL FROM: ?<([^>\r\n]*)>", c2s)):
        rest = c2s[m.end():]
        nxt = re.search(rb"(?im)^MAIL FROM:", rest)
        txn = rest[:nxt.start()] if nxt else rest
        lines = [b"M" + m.group(1)]
        if helo is not None:
            lines.append(b"H" + helo)
        if auth:
            lines.append(b"A" + auth)
        lines += [b"R" + r for r in re.findall(rb"(?im)^RCPT TO: ?<([^>\r\n]*)>", txn)[:8]]
        opt1 = 0
        if k < len(msgs):
            opt1 = 3
            h = header_fields(msgs[k])
            for name, tag in ((b"from", b"f"), (b"reply-to", b"p"), (b"sender", b"s")):
                lines += [tag + v for v in h.get(name, [])[:4]]
            for v in h.get(b"dkim-signature", [])[:4]:
                d = re.search(rb"(?:^|;)\s*d=([^;\s]+)", v)
                if d:
                    lines.append(b"D" + d.group(1))
            lines += [b"L" + v for v in h.get(b"list-id", [])[:1]]
        opts = bytes([opt0 | rng.choice([0, 2, 128]), opt1 | rng.choice([0, 8, 32]), rng.randrange(256), 2])
        seeds.append(opts + b"\n".join(l.replace(b"\n", b" ") for l in lines))
    return seeds


class Corpus:
    def __init__(self, root):
        self.root = root
        self.count = {}

    def add(self, target, data):
        if not data or len(data) > MAX_SEED or self.count.get(target, 0) >= MAX_PER_TARGET:
            return
        d = os.path.join(self.root, target)
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, hashlib.sha1(data).hexdigest())
        if not os.path.exists(p):
            with open(p, "wb") as f:
                f.write(data)
            self.count[target] = self.count.get(target, 0) + 1


def builtin(c):
    """Hand-written seeds for shapes the captures may lack."""
    c.add("codec", b"\x00dXNlcm5hbWU6")
    c.add("codec", b"\x00AHVzZXIAcGFzcw==")
    c.add("codec", b"\x01=?UTF-8?B?w6l0w6k=?= =?ISO-8859-1?Q?caf=E9?= plain")
    c.add("codec", b"\x02\"Doe, John\" <john@example.com>, group: a@b.c, (c) <d@e.f>;, @route:x@y.z")
    c.add("codec", b"\x03ISO-2022-JP\x00\x1b$B$3$s\x1b(B")
    c.add("codec", b"\x04\x1b[31mred\x9b\xc2\x85\xe2\x80\xae\x00")
    c.add("codec", b"\x05\"\\\x00\x7f\xff\xed\xa0\x80")
    c.add("imf", b"\x00\x00From: =?UTF-8?B?w6k=?= <a@b.c>\r\nTo: x@y.z\r\nSubject: hi\r\n"
                 b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
                 b"Content-Type: multipart/alternative; boundary=b2\r\n\r\n--b2\r\n\r\ntext\r\n--b2--\r\n"
                 b"--b1\r\nContent-Disposition: attachment; filename*=UTF-8''%C3%A9.pdf\r\n\r\nx\r\n--b1--\r\n")
    dlg = [(1, b"220 mx ESMTP\r\n"), (0, b"EHLO c\r\n"),
           (1, b"250-mx\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 AUTH LOGIN PLAIN\r\n"),
           (0, b"AUTH LOGIN\r\n"), (1, b"334 VXNlcm5hbWU6\r\n"), (0, b"dXNlcg==\r\n"),
           (1, b"334 UGFzc3dvcmQ6\r\n"), (0, b"cGFzcw==\r\n"), (1, b"235 ok\r\n"),
           (0, b"MAIL FROM:<a@b.c> SIZE=10\r\nRCPT TO:<d@e.f>\r\nBDAT 12 LAST\r\nSubject: x\r\n"),
           (1, b"250 ok\r\n250 ok\r\n250 ok\r\n"), (0, b"MAIL FROM:<>\r\nRCPT TO:<g@h>\r\nDATA\r\n"),
           (1, b"250 ok\r\n250 ok\r\n354 go\r\n"), (0, b"From: x\r\n\r\n..dot\r\n.\r\n"),
           (1, b"250 queued\r\n"), (0, b"STARTTLS\r\n"), (1, b"220 go\r\n"), (0, b"\x16\x03\x01\x00\x05hello")]
    for opt in (0, 3, 7):
        c.add("smtp", smtp_records(opt, dlg))
    for opts, lines in (
            (b"\x04\x03\x3f\x02", ["Hmail.example.org", "Mbob@example.org", "Ralice@example.net",
                                   "fBob <bob@example.org>", "Dexample.org"]),
            (b"\x00\x03\x3f\x02", ["Hmx.evil.example", "Mbounce@evil.example", "Rv@victim.example",
                                   "f\"PayPal\" <service@paypal.com>", "pReply <x@evil.example>"]),
            (b"\x80\x03\xff\x02", ["Hclient.mail.example.co.uk", "Mnews@lists.example.co.uk",
                                   "finfo@example.co.uk", "Llist.example.co.uk", "Dlists.example.co.uk"]),
            (b"\x00\x03\x3f\x02", ["M", "H[192.0.2.1]", "FMAILER-DAEMON@mx.example.com",
                                   "sPostmaster <postmaster@example.com>"]),
            (b"\x00\x01\x10\x02", ["Mceo@examp1e.com", "Fceo@example.com", "Rstaff@example.com"]),
            (b"\x00\x03\x40\x02", ["Madmin@\u0430\u0440\u0440\u04cf\u0435.com", "Fadmin@apple.com",
                                   "Nsupport@apple.com", "Psupport@xn--80ak6aa92e.com"]),
            (b"\x00\x03\x40\x02", ["Mx@b\u00fccher.example", "Fx@xn--bcher-kva.example",
                                   "Fy@M\u00dcNCHEN.de", "D\u4f8b\u3048.\u516c\u53f8"]),
            (b"\x02\x03\x40\x02", ["Ajohn", "Mjohn@example.com", "Fjohn.doe@example.com",
                                   "ADOMAIN\\john", "Aother@example.net"]),
            (b"\x00\x03\x40\x03", ["Mx@[IPv6:2001:db8::1]", "F<x@[192.0.2.1]>", "H173-66-46-112.dyn.example",
                                   "Xexample.com.", "X<Example.COM>", "X xn--p1ai"]),
            (b"\x70\x05\x40\x02", ["Hlocalhost", "Mx@\u0440\u0444", "fa@b.c, d@e.f, \"g@h.example\" <i@j.example>",
                                   "N\"ceo\uff20example.com\""]),
            (b"\x00\x03\x40\x02", ["rM\x30x@\tlong", "rF\x10x@\tsub.", "rM\x08y@\t\u00fc", "Fy@example.com"]),
    ):
        c.add("verdict", opts + "\n".join(lines).encode())


def tls_streams(path):
    """Client and server TCP payload streams of the one connection in a
    classic loopback pcap (tests/tls_vectors/), in sequence order."""
    lt, frames = read_capture(path)
    st, nxt, cport = [b"", b""], [None, None], None
    for fr in frames:
        l2 = 14 if lt == 1 else 16 if lt == 113 else None
        if l2 is None or len(fr) < l2 + 40 or fr[l2 - 2:l2] != b"\x08\x00" or fr[l2 + 9] != 6:
            continue
        ip = fr[l2:]
        ihl, tot = (ip[0] & 15) * 4, struct.unpack(">H", ip[2:4])[0]
        tcp = ip[ihl:tot]
        sp, seq, doff, fl = struct.unpack(">H", tcp[0:2])[0], struct.unpack(">I", tcp[4:8])[0], (tcp[12] >> 4) * 4, tcp[13]
        if fl & 0x12 == 0x02:
            cport = sp
        d = 0 if sp == cport else 1
        if fl & 2:
            nxt[d] = seq + 1
            continue
        pl = tcp[doff:]
        if nxt[d] is None or not pl or seq != nxt[d]:
            continue
        st[d] += pl
        nxt[d] = (seq + len(pl)) & 0xFFFFFFFF
    return st


def tls_records(stream):
    i, out = 0, []
    while i + 5 <= len(stream):
        n = struct.unpack(">H", stream[i + 3:i + 5])[0]
        out.append((stream[i], struct.unpack(">H", stream[i + 1:i + 3])[0], stream[i + 5:i + 5 + n]))
        i += 5 + n
    return out


def tlsdec_seeds(c):
    vec = os.path.join(ROOT, "tests", "tls_vectors")
    if not os.path.isdir(vec):
        return
    rec = lambda ctl, t, v, b: bytes([ctl, t]) + struct.pack("<HH", v, len(b)) + b
    for fn in sorted(os.listdir(vec)):
        if fn.endswith(".keys"):
            with open(os.path.join(vec, fn), "rb") as f:
                c.add("tlsdec", b"\x00" + f.read())
        if not (fn.startswith("t1") and fn.endswith(".pcap")) or fn.startswith("t13"):
            continue
        c2s, s2c = tls_streams(os.path.join(vec, fn))
        recs = [tls_records(c2s), tls_records(s2c)]
        ch = next((b for t, _, b in recs[0] if t == 22 and b[:1] == b"\x01"), None)
        sh = next((b for t, _, b in recs[1] if t == 22 and b[:1] == b"\x02"), None)
        if not ch or not sh:
            continue
        cr, sr, ver = ch[6:38], sh[6:38], struct.unpack(">H", sh[4:6])[0]
        sid = sh[38]
        suite = struct.unpack(">H", sh[39 + sid:41 + sid])[0]
        etm = 1 if b"\x00\x16\x00\x00" in sh[41 + sid:] else 0
        with open(os.path.join(vec, fn[:-5] + ".keys")) as f:
            ms = [l.split() for l in f if l.startswith("CLIENT_RANDOM")]
        master = next((bytes.fromhex(m[2]) for m in ms if bytes.fromhex(m[1]) == cr), None)
        if master is None:
            continue
        body = b""
        for d in (0, 1):
            ccs = False
            for t, v, b in recs[d]:
                if t == 20:
                    ccs = True
                elif ccs:
                    body += rec(d, t, v, b)
        c.add("tlsdec", b"\x01" + bytes([ver - 0x0301]) + struct.pack("<H", suite) + bytes([etm]) +
              master + cr + sr + body[:MAX_SEED - 120])
    # RFC 8448 section 3: secret A the server handshake secret, B the server application secret
    v = {}
    with open(os.path.join(vec, "rfc8448_1rtt.txt")) as f:
        name = None
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                name = None
            elif line.endswith(":"):
                name, v[line[:-1]] = line[:-1], b""
            elif name:
                v[name] += bytes.fromhex(line)
    if "server_flight_record" in v:
        r = lambda ctl, x: rec(ctl, x[0], struct.unpack(">H", x[1:3])[0], x[5:])
        c.add("tlsdec", b"\x02" + struct.pack("<H", 0x1301) + bytes([32]) + v["server_hs_secret"] +
              bytes([32]) + v["server_ap_secret"] + r(1, v["server_flight_record"]) +
              r(5, v["server_nst_record"]) + r(1, v["server_app_record"]) + r(1, v["server_alert_record"]) +
              r(3, v["server_alert_record"]))
    c.add("tlsdec", b"\x00CLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\r\n# c\nSERVER_TRAFFIC_SECRET_0 " +
          b"ab" * 32 + b" " + b"ef" * 32 + b"\nEXPORTER_SECRET x y\n")


def tls_seeds(c):
    """fuzz_tls.c: flag byte, then {u8 op, u16 len, bytes} per chunk."""
    base = os.path.join(ROOT, "tests", "tls")
    if not os.path.isdir(base):
        return
    rng = random.Random(3)
    for dp, _, fns in sorted(os.walk(base)):
        for fn in sorted(fns):
            if not fn.endswith(".tlss"):
                continue
            chunks = []
            with open(os.path.join(dp, fn)) as f:
                for line in f:
                    if line[:1] in "<>":
                        chunks.append((1 if line[0] == "<" else 0, bytes.fromhex(line[1:].strip())))
            for flag in (0, 1):
                out = bytes([flag])
                for d, b in chunks:
                    for o in range(0, len(b), 65535):
                        part = b[o:o + 65535]
                        op = d | (rng.randrange(64) << 2)
                        out += bytes([op]) + struct.pack("<H", len(part)) + part
                c.add("tls", out[:MAX_SEED])
    # hand-made: an SSLv2 hello, a record length lie, a gap
    c.add("tls", b"\x00\x00\x23\x00" + bytes.fromhex("802201030100090000001000002f0700c0000035") + bytes(range(1, 17)))
    c.add("tls", b"\x00\x00\x07\x00" + b"\x16\x03\x01\x48\x01\x01\x00" + b"\x03\x10\x00")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "smtpscope"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build-fuzz", "seeds"))
    ap.add_argument("inputs", nargs="*")
    a = ap.parse_args()
    inputs = a.inputs or [os.path.join(ROOT, "captures", "demo.pcap"), "/work/shared/captures/public",
                          os.path.join(ROOT, "tests", "hostile")]
    files = []
    for p in inputs:
        if os.path.isdir(p):
            for dp, _, fns in sorted(os.walk(p)):
                files += [os.path.join(dp, f) for f in sorted(fns)
                          if f.endswith((".pcap", ".pcapng", ".pcap.gz", ".cap"))]
        elif os.path.exists(p):
            files.append(p)
    files = [f for f in files if os.path.getsize(f) < 8 << 20]  # big hostile captures add nothing
    c = Corpus(a.out)
    rng = random.Random(1)
    vrng = random.Random(2)  # its own, so the other targets' seeds stay as they were
    builtin(c)
    tlsdec_seeds(c)
    tls_seeds(c)
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            try:
                lt, frames = read_capture(path)
            except (OSError, EOFError, struct.error):
                continue
            if lt is not None:
                for k in range(0, min(len(frames), 64), 16):
                    c.add("decode", decode_records(lt, frames[k:k + 16]))
            if not os.access(a.bin, os.X_OK):
                continue
            for fid, (c2s, s2c) in sorted(dump_streams(a.bin, path, tmp).items()):
                if not c2s and not s2c:
                    continue
                c.add("smtp", smtp_records(fid & 3, interleave(c2s[:MAX_SEED // 2], s2c[:MAX_SEED // 2])))
                c.add("reasm", reasm_records(c2s[:16384], rng))
                for m in messages(c2s)[:4]:
                    c.add("imf", bytes([rng.randrange(256), 0]) + m[:MAX_SEED - 2])
                for s in codec_seeds(c2s, s2c)[:30]:
                    c.add("codec", s)
                for s in verdict_seeds(c2s, s2c, vrng)[:8]:
                    c.add("verdict", s)
    for t in sorted(c.count):
        print("seeds: %-7s %d" % (t, c.count[t]))


if __name__ == "__main__":
    sys.exit(main())
