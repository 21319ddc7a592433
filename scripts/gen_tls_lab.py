#!/usr/bin/env python3
"""gen_tls_lab — real TLS handshakes on loopback for tests/unit/test_tls.c.

    python3 scripts/gen_tls_lab.py [OUTDIR]       # default tests/tls/lab (root: tcpdump)

Each case runs `openssl s_server -rev` (echoes each line reversed) and
`openssl s_client -keylogfile` on 127.0.0.1, captured with tcpdump; the
client sends a few SMTP-like lines (and a KeyUpdate in one case). Per case
OUTDIR gets NAME.pcap, NAME.keys (the NSS key log) and NAME.tlss (stream
bytes, scripts/tls_streams.py) with '=key value' lines from tshark, the
ground truth: version, cipher, SNI, ALPN, the leaf certificate's SHA-256,
and, decrypted by tshark with the key log (`-o tls.keylog_file:`), the
SHA-256 and length of each direction's application data.

Certificates are made fresh (openssl req), so the output differs from run
to run; the committed copy is one run. Not run by the test suite.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "tests", "tls", "lab"))
# s_client reads a line starting with Q, R, K or k as a command: those verbs are lower case
LINES = [b"EHLO client.example\n", b"MAIL FROM:<alice@example.org>\n", b"rcpt TO:<bob@example.net>\n",
         b"DATA\n", b"Subject: lab\n", b"quit\n"]

CASES = [
    # name, port, server args, client args, key update
    ("t13_aes128_chain", 24601, ["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256", "chain"],
     ["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256", "-servername", "mail.example.test"], True),
    ("t13_chacha_hrr", 24602, ["-tls1_3", "-groups", "P-256", "chain"],
     ["-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256", "-groups", "X25519:P-256",
      "-servername", "smtp.example.test", "-alpn", "smtp,x-test"], False),
    ("t13_aes256", 24603, ["-tls1_3", "-alpn", "smtp", "self"],
     ["-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384", "-servername", "mail.example.test", "-alpn", "smtp"], False),
    ("t12_gcm", 24604, ["-tls1_2", "self"],
     ["-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384", "-servername", "mail.example.test"], False),
    ("t12_chacha", 24605, ["-tls1_2", "self"],
     ["-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305", "-servername", "mail.example.test"], False),
    ("t12_cbc_etm", 24606, ["-tls1_2", "chain"],
     ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA", "-servername", "mail.example.test"], False),
    ("t12_cbc_mte", 24607, ["-tls1_2", "-no_etm", "self"],
     ["-tls1_2", "-cipher", "AES256-SHA256", "-no_etm", "-servername", "mail.example.test"], False),
]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def make_certs(d):
    cnf = os.path.join(d, "san.cnf")
    with open(cnf, "w") as f:
        f.write("[req]\ndistinguished_name=dn\n[dn]\n[ext]\nsubjectAltName=DNS:mail.example.test,DNS:smtp.example.test\n"
                "basicConstraints=CA:FALSE\n[ca]\nbasicConstraints=critical,CA:TRUE\n")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", d + "/ca.key", "-out", d + "/ca.pem", "-days", "3650", "-subj", "/O=smtpscope lab/CN=Lab CA",
         "-config", cnf, "-extensions", "ca"])
    run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/leaf.key", "-out", d + "/leaf.csr",
         "-subj", "/C=DE/O=smtpscope lab/CN=mail.example.test", "-config", cnf])
    run(["openssl", "x509", "-req", "-in", d + "/leaf.csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key",
         "-set_serial", "0x1234ABCD", "-days", "825", "-out", d + "/leaf.pem", "-extfile", cnf, "-extensions", "ext"])
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/self.key", "-out",
         d + "/self.pem", "-days", "365", "-subj", "/CN=mail.example.test", "-config", cnf, "-extensions", "ext"])


def tshark_plain(pcap, keys, port):
    """Decrypted application data per direction, as tshark sees it (its
    node 0 is not always the client: the node on the server port is)."""
    out = subprocess.run(["tshark", "-r", pcap, "-o", "tls.keylog_file:" + keys, "-q", "-z", "follow,tls,raw,0"],
                         capture_output=True, text=True, check=True).stdout
    data = [b"", b""]
    swap = False
    for line in out.splitlines():
        if line.startswith("Node 0:"):
            swap = line.strip().endswith(":%d" % port)
        s = line.strip()
        if not s or s.startswith("=") or ":" in s or line.startswith(("Follow", "Filter", "Node")):
            continue
        data[(1 if line.startswith("\t") else 0) ^ swap] += bytes.fromhex(s)
    return data


def one(tmp, name, port, sargs, cargs, keyupdate):
    pcap = os.path.join(OUT, name + ".pcap")
    keys = os.path.join(OUT, name + ".keys")
    if os.path.exists(keys):
        os.unlink(keys)
    kind = sargs[-1]
    cert = ["-cert", tmp + "/leaf.pem", "-key", tmp + "/leaf.key", "-cert_chain", tmp + "/ca.pem"] if kind == "chain" \
        else ["-cert", tmp + "/self.pem", "-key", tmp + "/self.key"]
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-s", "0", "-w", pcap, "tcp port %d" % port],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _session(tmp, name, port, sargs, cargs, keyupdate, pcap, keys, cert)
    finally:
        dump.terminate()
        dump.wait()
    _write(name, pcap, keys, port)


def _session(tmp, name, port, sargs, cargs, keyupdate, pcap, keys, cert):
    time.sleep(1)
    srv = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-naccept", "1", "-rev"]
                           + cert + sargs[:-1], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    time.sleep(0.7)
    cli = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-keylogfile", keys]
                           + cargs, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.7)
    for i, line in enumerate(LINES):
        if keyupdate and i == 3:
            cli.stdin.write(b"K\n")  # s_client: KeyUpdate, peer asked to update too
            cli.stdin.flush()
            time.sleep(0.3)
        cli.stdin.write(line)
        cli.stdin.flush()
        time.sleep(0.3)
    cli.stdin.close()
    cli.wait(timeout=10)
    try:
        srv.wait(timeout=5)
    except subprocess.TimeoutExpired:
        srv.kill()
    time.sleep(0.7)


def _write(name, pcap, keys, port):
    stream = subprocess.run([sys.executable, os.path.join(HERE, "tls_streams.py"), pcap, "0", "--expect",
                             "--keylog", keys], capture_output=True, text=True, check=True).stdout
    plain = tshark_plain(pcap, keys, port)
    with open(os.path.join(OUT, name + ".tlss"), "w") as f:
        f.write("# %s: openssl s_server/s_client on loopback (scripts/gen_tls_lab.py), key log %s.keys\n" % (name, name))
        for d, tag in ((0, "c2s"), (1, "s2c")):
            f.write("=plain_%s_len %d\n" % (tag, len(plain[d])))
            f.write("=plain_%s_sha256 %s\n" % (tag, hashlib.sha256(plain[d]).hexdigest()))
        f.write(stream)
    print("%s: %d/%d plaintext bytes" % (name, len(plain[0]), len(plain[1])))


def main():
    os.makedirs(OUT, exist_ok=True)
    if len(sys.argv) > 2 and sys.argv[2] == "--rewrite":   # only re-derive the .tlss files
        for name, port, *_ in CASES:
            _write(name, os.path.join(OUT, name + ".pcap"), os.path.join(OUT, name + ".keys"), port)
        return
    tmp = tempfile.mkdtemp()
    try:
        make_certs(tmp)
        for c in CASES:
            one(tmp, *c)
    finally:
        shutil.rmtree(tmp)


main()
