#!/usr/bin/env python3
"""tls_streams — TCP stream bytes of a capture as a .tlss file for
tests/unit/test_tls.c (the TLS parser is fed stream bytes, not packets).

    python3 scripts/tls_streams.py PCAP STREAM [--max BYTES] > NAME.tlss

Uses tshark's "follow,tcp,raw" (reassembled payload in capture order).
Output: '#' comment lines, then one line per chunk: '>' + hex for
client-to-server bytes (tshark's node 0), '<' + hex for server-to-client.
--max cuts each direction after BYTES bytes (enough for the hellos).
--keylog KEYS lets tshark decrypt (a TLS 1.3 certificate).
--expect adds '=key value' lines with what tshark decodes of the stream
(the ground truth test_tls.c compares against): version, cipher, sni,
alpn (the client's list), n_certs and cert0_sha256 (SHA-256 of the leaf's
DER) when the whole Certificate message is within the bytes kept.
"""
import hashlib
import argparse
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("pcap")
ap.add_argument("stream", type=int)
ap.add_argument("--max", type=int, default=0)
ap.add_argument("--expect", action="store_true")
ap.add_argument("--keylog", help="key log for tshark (the certificate of TLS 1.3)")
ap.add_argument("--starttls", action="store_true",
                help="drop each direction's bytes before its first TLS record that follows a CRLF (the SMTP part)")
ap.add_argument("--handshake-only", action="store_true",
                help="cut each direction at its first application_data record")
a = ap.parse_args()


def fields(filt, *names):
    cmd = ["tshark", "-r", a.pcap] + (["-o", "tls.keylog_file:" + a.keylog] if a.keylog else []) + ["-Y", "tcp.stream==%d && (%s)" % (a.stream, filt), "-T", "fields",
           "-E", "occurrence=a", "-E", "separator=|"]
    for n in names:
        cmd += ["-e", n]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("|") for line in r.splitlines() if line.strip()]


if a.expect:
    ch = fields("tls.handshake.type==1", "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str")
    sh = fields("tls.handshake.type==2", "tls.handshake.ciphersuite", "tls.handshake.version",
                "tls.handshake.extensions.supported_version", "tls.handshake.random")
    HRR = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
    sh = [x for x in sh if x[3].replace(":", "") != HRR]
    if ch and ch[-1][0]:
        print("=sni " + ch[-1][0])
    if ch and ch[-1][1]:
        print("=alpn " + ch[-1][1])
    if sh:
        x = sh[-1]
        print("=cipher " + x[0].split(",")[-1])
        print("=version " + (x[2] or x[1]).split(",")[-1])
    if True:
        ce = fields("tls.handshake.type==11", "tls.handshake.certificate", "tcp.srcport")
        if ce and ce[0][0]:
            certs = ce[0][0].split(",")
            print("=n_certs %d" % len(certs))
            print("=cert0_sha256 " + hashlib.sha256(bytes.fromhex(certs[0])).hexdigest())
out = subprocess.run(["tshark", "-r", a.pcap, "-q", "-z", "follow,tcp,raw,%d" % a.stream],
                     capture_output=True, text=True, check=True).stdout
nodes = {}
got = [0, 0]
chunks = []
for line in out.splitlines():
    s = line.strip()
    if not s or s.startswith("=") or ":" in s or line.startswith("Node") or line.startswith("Follow") or line.startswith("Filter"):
        continue
    chunks.append((1 if line.startswith("\t") else 0, bytes.fromhex(s)))
start = [0, 0]
if a.starttls:
    for d in (0, 1):
        buf = b"".join(b for dd, b in chunks if dd == d)
        i = buf.find(b"\r\n\x16\x03")
        start[d] = 0 if buf[:2] == b"\x16\x03" else i + 2 if i >= 0 else len(buf)
    out_chunks, pos = [], [0, 0]
    for d, b in chunks:
        lo = max(0, start[d] - pos[d])
        pos[d] += len(b)
        if lo < len(b):
            out_chunks.append((d, b[lo:]))
    chunks = out_chunks
cut = [None, None]
if a.handshake_only:
    for d in (0, 1):
        buf = b"".join(b for dd, b in chunks if dd == d)
        i = 0
        while i + 5 <= len(buf):
            if buf[i] == 23:
                cut[d] = i
                break
            i += 5 + int.from_bytes(buf[i + 3:i + 5], "big")
limit = [cut[d] if cut[d] is not None else (a.max or None) for d in (0, 1)]
print("# %s tcp.stream %d (tshark follow,tcp,raw)" % (a.pcap.split("/")[-1], a.stream))
for line in out.splitlines():
    if line.startswith("Node 0:") or line.startswith("Node 1:"):
        print("# " + line)
for d, b in chunks:
    if limit[d] is not None:
        b = b[:max(0, limit[d] - got[d])]
    if not b:
        continue
    got[d] += len(b)
    print(("<" if d else ">") + b.hex())
