#!/usr/bin/env python3
"""--any-port must find, by content, the same SMTP sessions as naming their
ports does, on every capture of the public corpus, and find no SMTP in
traffic that is not SMTP (HTTP, TLS off 465, random bytes)."""
import glob, json, os, random, subprocess, sys, tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
from pcapgen import Pcap, Tcp, LINKTYPE_ETHERNET  # noqa: E402

SMTPSCOPE = os.environ.get("SMTPSCOPE", "./smtpscope")
PUBLIC = os.environ.get("PUBLIC", "../shared/captures/public")
ALL_PORTS = "25,587,2025,2525,1224,8240,465,1080"
passed = failed = 0


def sessions(args, smtp_only=False):
    """(client, server) of every session record; smtp_only keeps those that
    spoke SMTP (a greeting or a HELO/EHLO), not any flow on a named port."""
    p = subprocess.run([SMTPSCOPE, "--json", "-q"] + args, capture_output=True, text=True)
    out = set()
    for line in p.stdout.splitlines():
        d = json.loads(line)
        if d.get("type") == "session":
            if smtp_only and not (d.get("helo") is not None or d.get("greeting_code") in (220, 554) or d.get("tls")):
                continue
            out.add((d["client"], d["server"]))
    return out


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok  ", name)
    else:
        failed += 1
        print("FAIL", name, detail)


files = sorted(glob.glob(PUBLIC + "/**/*.pcap", recursive=True) + glob.glob(PUBLIC + "/**/*.pcapng", recursive=True))
for f in files:
    named = sessions(["--ports", ALL_PORTS, "-r", f])
    named_smtp = sessions(["--ports", ALL_PORTS, "-r", f], smtp_only=True)
    found = sessions(["--any-port", "-r", f])
    # A flow on a named port is dissected whatever it holds; by content only
    # SMTP counts. So: every SMTP session found by content is one of the named
    # ones, and every named session that looks like SMTP is found.
    rel = os.path.relpath(f, PUBLIC)
    extra = found - named
    check(f"{rel}: nothing invented", not extra, f"extra {sorted(extra)}")
    nonstd = {s for s in named_smtp if not s[1].endswith((":25", ":587", ":2025"))}
    missing = {s for s in nonstd if s not in found}
    check(f"{rel}: every session on a non-standard port found ({len(nonstd)})", not missing, f"missing {sorted(missing)}")

# Traffic that is not SMTP on other ports: nothing may be reported.
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "notsmtp.pcap")
    rnd = random.Random(7)
    with Pcap(path, LINKTYPE_ETHERNET, seed=7) as pc:
        t = Tcp(pc, client=("192.0.2.1", 40001), server=("198.51.100.2", 8080), t0=1000.0)
        t.handshake(); t.client(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"); t.server(b"HTTP/1.1 200 OK\r\n\r\nhello"); t.close()
        t = Tcp(pc, client=("192.0.2.1", 40002), server=("198.51.100.2", 443), t0=1001.0)
        t.handshake(); t.client(bytes([0x16, 3, 1, 0, 5, 1, 0, 0, 1, 0])); t.server(bytes([0x16, 3, 3, 0, 2, 2, 0])); t.close()
        t = Tcp(pc, client=("192.0.2.1", 40003), server=("198.51.100.2", 9999), t0=1002.0)
        t.handshake(); t.client(bytes(rnd.getrandbits(8) for _ in range(3000))); t.server(bytes(rnd.getrandbits(8) for _ in range(3000))); t.close()
        t = Tcp(pc, client=("192.0.2.1", 40004), server=("198.51.100.2", 2200), t0=1003.0)
        t.handshake(); t.server(b"220-looks like a greeting\r\n220 but\r\n"); t.client(b"USER anonymous\r\n"); t.close()
        t = Tcp(pc, client=("192.0.2.1", 40005), server=("198.51.100.2", 4025), t0=1004.0)
        t.handshake(); t.server(b"220 mx.example ESMTP\r\n"); t.client(b"EHLO me.example\r\n"); t.server(b"250 ok\r\n"); t.client(b"QUIT\r\n"); t.server(b"221 bye\r\n"); t.close()
    found = sessions(["--any-port", "-r", path])
    check("HTTP, TLS on 443, random bytes and an FTP-like 220 are not SMTP",
          not any(s[1].endswith((":8080", ":443", ":9999", ":2200")) for s in found), str(sorted(found)))
    check("a real SMTP dialogue on port 4025 is found", any(s[1].endswith(":4025") for s in found), str(sorted(found)))

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
