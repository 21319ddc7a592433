#!/usr/bin/python3
"""tls_lab.py — record real SMTP-over-TLS sessions on loopback with their key logs.

Each session is one capture (tcpdump -i lo -s 0, filtered on the server port,
started after the server listens) and the key log of its client (Python ssl
`keylog_filename`, or curl's SSLKEYLOGFILE), written as

    OUT/NAME.pcap   OUT/NAME.keys   OUT/NAME.meta.json (the generator's known inputs)

The expectations (NAME.expect.json) come from tshark on these files
(tests/tls/make_expect.py), never from smtpscope.

    /usr/bin/python3 scripts/tls_lab.py certs DIR        make the lab certificates (openssl)
    /usr/bin/python3 scripts/tls_lab.py record OUT [NAME...]   record sessions (root: tcpdump on lo)
    /usr/bin/python3 scripts/tls_lab.py lab [OUT]        all of it: certs if missing, every session, the
                                                         pcapng with secrets, the wrong key logs, the
                                                         expectations (OUT: tests/tls)
    /usr/bin/python3 scripts/tls_lab.py list             the session names
    /usr/bin/python3 scripts/tls_lab.py server ...       (internal: the aiosmtpd server of one session)

Servers: aiosmtpd (Debian's python3-aiosmtpd, hence /usr/bin/python3) with its
STARTTLS (tls_context) or implicit TLS (ssl_context). Which TLS version, suite
and encrypt-then-MAC a session gets is set on the server side (cipher list,
maximum version, SSL_OP_NO_ENCRYPT_THEN_MAC, TLS 1.3 Ciphersuites through an
OPENSSL_CONF of its own), so the clients are stock Python smtplib and curl.
The server and client hostnames are lab names on 127.0.0.1 (SNI is sent).
"""

import json
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CERTS = os.path.join(ROOT, "tests", "tls", "certs")
PY = "/usr/bin/python3"

SSL_OP_NO_ENCRYPT_THEN_MAC = 1 << 19  # OpenSSL 3 <openssl/ssl.h>; Python does not name it

# The sessions. server: how the server is set up; client: who talks to it.
#   mode: "starttls" (port 587 style) or "implicit" (port 465 style)
#   cert: certs/<cert>.chain.pem + certs/<cert>.key ("mail": leaf + lab CA; the others self-signed)
#   ciphers / tls13: TLS <= 1.2 cipher list / TLS 1.3 Ciphersuites of the server
#   auth: PLAIN, LOGIN (initial response), LOGIN-334 (user after a 334 challenge)
SESSIONS = {
    "py_starttls_tls12_aes128gcm": dict(mode="starttls", cert="mail", sni="mail.lab.test", max="1.2",
                                        ciphers="ECDHE-RSA-AES128-GCM-SHA256", client="python", auth="PLAIN"),
    "py_starttls_tls12_chacha20": dict(mode="starttls", cert="selfsigned", sni="selfsigned.lab.test", max="1.2",
                                       ciphers="ECDHE-RSA-CHACHA20-POLY1305", client="python", auth="LOGIN"),
    "py_starttls_tls12_cbc_etm": dict(mode="starttls", cert="mail", sni="smtp.lab.test", max="1.2",
                                      ciphers="ECDHE-RSA-AES128-SHA", client="python", auth="LOGIN-334"),
    "py_starttls_tls12_cbc_noetm": dict(mode="starttls", cert="mail", sni="mail.lab.test", max="1.2",
                                        ciphers="ECDHE-RSA-AES128-SHA", no_etm=True, client="python", auth="PLAIN"),
    "py_starttls_tls13_aes128gcm": dict(mode="starttls", cert="mail", sni="mail.lab.test",
                                        tls13="TLS_AES_128_GCM_SHA256", client="python", auth="PLAIN"),
    "py_starttls_tls13_aes256gcm": dict(mode="starttls", cert="selfsigned", sni="selfsigned.lab.test",
                                        tls13="TLS_AES_256_GCM_SHA384", client="python", auth="LOGIN"),
    "py_implicit_tls13_chacha20": dict(mode="implicit", cert="mail", sni="mail.lab.test",
                                       tls13="TLS_CHACHA20_POLY1305_SHA256", client="python", auth="PLAIN"),
    "py_implicit_tls12_expired_ecdsa": dict(mode="implicit", cert="expired", sni="wrong.lab.test", max="1.2",
                                            ciphers="ECDHE-ECDSA-AES256-GCM-SHA384", client="python",
                                            auth="LOGIN"),
    "exim_starttls_tls13": dict(mode="starttls", server="exim", cert="mail", sni="mail.lab.test", client="python",
                                auth="PLAIN"),
    "exim_implicit_tls12": dict(mode="implicit", server="exim", cert="mail", sni="smtp.lab.test", client="python",
                                client_max="1.2", auth="LOGIN"),
    "curl_starttls_tls13": dict(mode="starttls", cert="mail", sni="mail.lab.test", client="curl", auth="PLAIN"),
    "curl_implicit_tls12_aes256gcm": dict(mode="implicit", cert="mail", sni="smtp.lab.test", max="1.2",
                                          ciphers="ECDHE-RSA-AES256-GCM-SHA384", client="curl", auth="LOGIN"),
}

DEFAULT_PORTS = {"starttls": 587, "implicit": 465}


def inputs_for(name, spec):
    """The known inputs of a session: who authenticates, the envelope, the message."""
    short = name.replace("_", "-")
    return {
        "user": "u-" + short,
        "password": "pw-" + short + "-secret",
        "helo": "client.lab.test",
        "helo_tls": "tls-client.lab.test",
        "mail_from": "bounce-%s@sender.lab.test" % short,
        "rcpt_to": ["alice+%s@dest.lab.test" % short, "bob+%s@dest.lab.test" % short],
        "header_from": "Lab Sender <%s@header-from.example>" % short,
        "header_from_addr": "%s@header-from.example" % short,
        "subject": "lab %s" % name,
    }


def message(inp):
    return ("From: %s\r\nTo: Alice <%s>\r\nSubject: %s\r\nDate: Thu, 03 Dec 2026 12:00:00 +0000\r\n"
            "Message-ID: <%s@lab.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            "A message sent over TLS by the smtpscope lab.\r\nSecond line.\r\n") % (
        inp["header_from"], inp["rcpt_to"][0], inp["subject"], inp["subject"].replace(" ", "."))


# ---- certificates -------------------------------------------------------------

def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode:
        sys.exit("tls_lab: %s failed: %s" % (" ".join(cmd), r.stderr.strip()))
    return r.stdout


CA_CNF = """[ ca ]
default_ca = lab
[ lab ]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[ any ]
organizationName = optional
commonName = supplied
"""


def make_certs(d):
    """The lab certificates (fixed validity, known subjects):
    ca        CN=smtpscope Lab CA, self-signed RSA 2048, 2026-01-01 .. 2036-01-01
    mail      CN=mail.lab.test signed by ca, SAN mail.lab.test + smtp.lab.test, RSA 2048,
              2026-01-01 .. 2031-01-01; served with the CA (chain of 2)
    selfsigned CN=selfsigned.lab.test self-signed RSA 3072, SAN selfsigned.lab.test (openssl req -x509)
    expired   CN=expired.lab.test self-signed EC P-256, SAN expired.lab.test, 2020-01-01 .. 2021-01-01
    """
    os.makedirs(d, exist_ok=True)
    with tempfile.TemporaryDirectory() as w:
        open(os.path.join(w, "ca.cnf"), "w").write(CA_CNF)
        open(os.path.join(w, "index.txt"), "w").close()
        open(os.path.join(w, "serial"), "w").write("5A17\n")

        def ossl(*a):
            run(["openssl"] + list(a), cwd=w)
        # the CA
        ossl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.csr",
             "-subj", "/O=smtpscope lab/CN=smtpscope Lab CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        ossl("ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", "ca.key", "-in", "ca.csr",
             "-out", "ca.pem", "-startdate", "20260101000000Z", "-enddate", "20360101000000Z", "-notext")
        # the leaf, signed by the CA
        ossl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "mail.key", "-out", "mail.csr",
             "-subj", "/O=smtpscope lab/CN=mail.lab.test",
             "-addext", "subjectAltName=DNS:mail.lab.test,DNS:smtp.lab.test")
        ossl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", "mail.csr",
             "-out", "mail.pem", "-startdate", "20260101000000Z", "-enddate", "20310101000000Z", "-notext")
        # self-signed with openssl req -x509
        ossl("req", "-x509", "-newkey", "rsa:3072", "-nodes", "-keyout", "selfsigned.key", "-out", "selfsigned.pem",
             "-days", "3650", "-subj", "/C=DE/O=smtpscope lab/CN=selfsigned.lab.test",
             "-addext", "subjectAltName=DNS:selfsigned.lab.test", "-set_serial", "0x1f2e3d4c5b6a7988")
        # expired, EC
        ossl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "expired.key", "-out", "expired.csr", "-subj", "/O=smtpscope lab/CN=expired.lab.test",
             "-addext", "subjectAltName=DNS:expired.lab.test")
        ossl("ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", "expired.key", "-in", "expired.csr",
             "-out", "expired.pem", "-startdate", "20200101000000Z", "-enddate", "20210101000000Z", "-notext")
        for n in ("ca", "mail", "selfsigned", "expired"):
            key = open(os.path.join(w, n + ".key")).read()
            pem = open(os.path.join(w, n + ".pem")).read()
            chain = pem + (open(os.path.join(w, "ca.pem")).read() if n == "mail" else "")
            open(os.path.join(d, n + ".key"), "w").write(key)
            open(os.path.join(d, n + ".chain.pem"), "w").write(chain)
    print("tls_lab: certificates in %s" % d)


# ---- the server -----------------------------------------------------------------

def server_main(argv):
    """server MODE PORT CERT USER PASSWORD [--ciphers X] [--max 1.2] [--no-etm]: aiosmtpd on 127.0.0.1:PORT.
    Prints "ready" once it listens; stops on SIGTERM."""
    import threading
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword
    mode, port, cert, user, password = argv[:5]
    opts = argv[5:]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(CERTS, cert + ".chain.pem"), os.path.join(CERTS, cert + ".key"))
    i = 0
    while i < len(opts):
        if opts[i] == "--ciphers":
            ctx.set_ciphers(opts[i + 1])
            i += 1
        elif opts[i] == "--max":
            ctx.maximum_version = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[opts[i + 1]]
            i += 1
        elif opts[i] == "--no-etm":
            ctx.options |= SSL_OP_NO_ENCRYPT_THEN_MAC
        i += 1

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            print("message from %s to %s (%d bytes)" % (envelope.mail_from, ",".join(envelope.rcpt_tos),
                                                         len(envelope.content or b"")), file=sys.stderr, flush=True)
            return "250 2.0.0 Ok: queued as LAB1"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        return AuthResult(success=ok, handled=False)

    kw = dict(hostname="127.0.0.1", port=int(port), server_hostname="mx.lab.test", authenticator=authenticator,
              auth_require_tls=False, auth_exclude_mechanism=["CRAM-MD5"])
    if mode == "starttls":
        kw.update(tls_context=ctx, require_starttls=True)
    else:
        kw.update(ssl_context=ctx)
    ctl = Controller(Handler(), **kw)
    ctl.start()
    print("ready", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    done.wait()
    ctl.stop()


OPENSSL_CNF = """openssl_conf = lab_conf
[lab_conf]
ssl_conf = lab_ssl
[lab_ssl]
system_default = lab_sys
[lab_sys]
MinProtocol = TLSv1.2
Ciphersuites = %s
"""


EXIM_CONF = "/etc/exim4/exim4.conf"  # first in Debian's exim search path; only while recording


def start_exim(spec, inp, port, work):
    """Exim (Debian's exim4-daemon-light, GnuTLS) on 127.0.0.1:587 (STARTTLS) and :465
    (tls_on_connect), config scripts/tls_lab_exim.conf, accepting mail for dest.lab.test
    from the one account. Its server-side key log (GnuTLS SSLKEYLOGFILE) stayed empty
    here, so the client's key log is the session's."""
    import shutil
    if port not in (465, 587):
        sys.exit("tls_lab: the Exim sessions use ports 587 and 465")
    if os.path.exists(EXIM_CONF):
        sys.exit("tls_lab: %s exists; not overwriting it" % EXIM_CONF)
    os.chmod(work, 0o755)
    for f in ("mail.chain.pem", "mail.key"):
        shutil.copy(os.path.join(CERTS, f), os.path.join(work, f))
    shutil.chown(os.path.join(work, "mail.key"), "Debian-exim")
    open(EXIM_CONF, "w").write(open(os.path.join(HERE, "tls_lab_exim.conf")).read().replace("@DIR@", work))
    env = dict(os.environ, LAB_USER=inp["user"], LAB_PASSWORD=inp["password"])
    pidf = os.path.join(work, "exim.pid")
    p = subprocess.Popen(["exim", "-bdf", "-oP", pidf], env=env, stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(work, "server.err"), "w"))
    for _ in range(100):
        if not port_free(port):
            return p
        time.sleep(0.05)
    p.kill()
    os.unlink(EXIM_CONF)
    sys.exit("tls_lab: exim did not start: %s" % open(os.path.join(work, "server.err")).read())


def start_server(spec, inp, port, work):
    if spec.get("server") == "exim":
        return start_exim(spec, inp, port, work)
    env = dict(os.environ)
    env.pop("SSLKEYLOGFILE", None)
    if spec.get("tls13"):
        cnf = os.path.join(work, "openssl.cnf")
        open(cnf, "w").write(OPENSSL_CNF % spec["tls13"])
        env["OPENSSL_CONF"] = cnf
    cmd = [PY, os.path.abspath(__file__), "server", spec["mode"], str(port), spec["cert"], inp["user"],
           inp["password"]]
    if spec.get("ciphers"):
        cmd += ["--ciphers", spec["ciphers"]]
    if spec.get("max"):
        cmd += ["--max", spec["max"]]
    if spec.get("no_etm"):
        cmd += ["--no-etm"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(os.path.join(work, "server.err"), "w"),
                         env=env, text=True)
    line = p.stdout.readline()
    if "ready" not in line:
        p.kill()
        sys.exit("tls_lab: server did not start: %s" % open(os.path.join(work, "server.err")).read())
    return p


# ---- the clients ----------------------------------------------------------------

class LabSMTP(smtplib.SMTP):
    """smtplib.SMTP that talks to 127.0.0.1 under a lab host name (so SNI is sent)."""
    def _get_socket(self, host, port, timeout):
        return socket.create_connection(("127.0.0.1", port), timeout, self.source_address)


class LabSMTP_SSL(smtplib.SMTP_SSL):
    def _get_socket(self, host, port, timeout):
        s = socket.create_connection(("127.0.0.1", port), timeout, self.source_address)
        return self.context.wrap_socket(s, server_hostname=self._host)


def client_ctx(keylog):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # lab certificates; the point is what the wire shows
    ctx.keylog_filename = keylog
    return ctx


def python_client(spec, inp, port, keylog):
    ctx = client_ctx(keylog)
    if spec.get("client_max") == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if spec["mode"] == "starttls":
        s = LabSMTP(spec["sni"], port, local_hostname=inp["helo"], timeout=10)
        s.ehlo(inp["helo"])
        s.starttls(context=ctx)
    else:
        s = LabSMTP_SSL(spec["sni"], port, local_hostname=inp["helo"], context=ctx, timeout=10)
    s.ehlo(inp["helo_tls"])
    s.user, s.password = inp["user"], inp["password"]
    if spec["auth"] == "PLAIN":
        code, _ = s.auth("PLAIN", s.auth_plain)
    elif spec["auth"] == "LOGIN":
        code, _ = s.auth("LOGIN", s.auth_login)
    else:
        code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
    if code != 235:
        sys.exit("tls_lab: AUTH failed (%d)" % code)
    refused = s.sendmail(inp["mail_from"], inp["rcpt_to"], message(inp).encode())
    if refused:
        sys.exit("tls_lab: refused %r" % refused)
    s.quit()


def curl_client(spec, inp, port, keylog, work):
    msg = os.path.join(work, "msg.eml")
    open(msg, "w", newline="").write(message(inp))
    scheme = "smtp" if spec["mode"] == "starttls" else "smtps"
    cmd = ["curl", "-sS", "--url", "%s://%s:%d/%s" % (scheme, spec["sni"], port, inp["helo_tls"]),
           "--connect-to", "%s:%d:127.0.0.1:%d" % (spec["sni"], port, port), "-k",
           "--mail-from", inp["mail_from"], "--user", "%s:%s" % (inp["user"], inp["password"]),
           "--login-options", "AUTH=" + spec["auth"].split("-")[0], "--upload-file", msg]
    for r in inp["rcpt_to"]:
        cmd += ["--mail-rcpt", r]
    if scheme == "smtp":
        cmd += ["--ssl-reqd"]
    env = dict(os.environ, SSLKEYLOGFILE=keylog)
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=20)
    if r.returncode:
        sys.exit("tls_lab: curl failed (%d): %s" % (r.returncode, r.stderr))


def exim_version():
    out = run(["exim", "-bV"])
    gnutls = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libgnutls30"], capture_output=True, text=True).stdout
    return "%s (Debian exim4-daemon-light), GnuTLS %s" % (out.splitlines()[0].split(" #")[0], gnutls)


def curl_version():
    return run(["curl", "--version"]).splitlines()[0]


# ---- recording ------------------------------------------------------------------

def tcpdump_start(pcap, port, work):
    err = open(os.path.join(work, "tcpdump.err"), "w+")
    p = subprocess.Popen(["tcpdump", "-i", "lo", "-s", "0", "-B", "16384", "-U", "--immediate-mode", "-n", "-w", pcap,
                          "tcp port %d" % port], stdout=subprocess.DEVNULL, stderr=err)
    for _ in range(100):
        err.seek(0)
        if "listening on" in err.read():
            return p
        time.sleep(0.05)
    p.kill()
    sys.exit("tls_lab: tcpdump did not start")


def wait_for_end(pcap, timeout=15):
    """tcpdump lags behind on a loaded machine: wait until the capture holds the
    session's end (a FIN from both sides, or an RST) before stopping it"""
    t0 = time.time()
    while time.time() - t0 < timeout:
        time.sleep(0.3)
        r = subprocess.run(["tcpdump", "-r", pcap, "-n", "tcp[tcpflags] & (tcp-fin|tcp-rst) != 0"],
                           capture_output=True, text=True)
        lines = [l.split() for l in r.stdout.splitlines()]
        ends = {l[2] for l in lines if len(l) > 2}
        if len(ends) >= 2 or any("[R" in " ".join(l) for l in lines):
            time.sleep(0.3)
            return
    sys.exit("tls_lab: %s: the session's end never reached the capture" % pcap)


def port_free(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def capture_complete(pcap):
    """no segment the capture missed (tcpdump drops packets on a loaded machine)"""
    r = subprocess.run(["tshark", "-r", pcap, "-n", "-Y",
                        "tcp.analysis.lost_segment or tcp.analysis.ack_lost_segment"],
                       capture_output=True, text=True)
    return r.returncode == 0 and not r.stdout.strip()


def record(name, spec, out, port=None):
    """Record one session: OUT/NAME.pcap, OUT/NAME.keys, OUT/NAME.meta.json.
    A capture with a lost segment is recorded again (up to 5 times)."""
    for attempt in range(5):
        record_once(name, spec, out, port)
        if capture_complete(os.path.join(out, name + ".pcap")):
            return
        print("tls_lab: %s: the capture lost a segment; again" % name, file=sys.stderr)
    sys.exit("tls_lab: %s: no complete capture in 5 attempts" % name)


def record_once(name, spec, out, port=None):
    port = port or DEFAULT_PORTS[spec["mode"]]
    if not port_free(port):
        sys.exit("tls_lab: port %d is in use" % port)
    inp = inputs_for(name, spec)
    pcap, keys = os.path.join(out, name + ".pcap"), os.path.join(out, name + ".keys")
    if os.path.exists(pcap):
        os.unlink(pcap)
    open(keys, "w").close()  # truncated, same file: a live reader of the key log keeps it
    with tempfile.TemporaryDirectory() as work:
        srv = start_server(spec, inp, port, work)
        try:
            td = tcpdump_start(pcap, port, work)
            try:
                if spec["client"] == "python":
                    python_client(spec, inp, port, keys)
                else:
                    curl_client(spec, inp, port, keys, work)
                wait_for_end(pcap)
            finally:
                td.send_signal(signal.SIGINT)
                td.wait(10)
        finally:
            srv.terminate()
            srv.wait(10)
            if spec.get("server") == "exim" and os.path.exists(EXIM_CONF):
                os.unlink(EXIM_CONF)
    import aiosmtpd
    meta = dict(name=name, port=port, inputs=inp, **spec)
    meta["software"] = {
        "server": (exim_version() if spec.get("server") == "exim" else
                   "aiosmtpd %s, Python %s, %s" % (aiosmtpd.__version__, sys.version.split()[0], ssl.OPENSSL_VERSION)),
        "client": ("Python %s smtplib, %s" % (sys.version.split()[0], ssl.OPENSSL_VERSION)
                   if spec["client"] == "python" else curl_version()),
    }
    meta["self_signed"] = spec["cert"] != "mail"
    meta["chain_len"] = 2 if spec["cert"] == "mail" else 1
    with open(os.path.join(out, name + ".meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")
    print("tls_lab: %s: %d bytes, keys %d lines" % (pcap, os.path.getsize(pcap), len(open(keys).readlines())))


def flip_keys(src, dst):
    """a key log whose secrets are wrong: every secret's bytes inverted (same client randoms)"""
    out = []
    for line in open(src):
        p = line.split()
        if len(p) == 3 and not line.startswith("#"):
            p[2] = bytes(b ^ 0xFF for b in bytes.fromhex(p[2])).hex()
            out.append(" ".join(p) + "\n")
    open(dst, "w").write("".join(out))


# the wrong key logs: capture -> [(key log, expected tls_keys, expected anomaly)]
WRONG = {
    "py_starttls_tls12_aes128gcm": [("py_starttls_tls12_aes128gcm.flipped.keys", "failed", "tls_decrypt_failed"),
                                    ("py_starttls_tls13_aes128gcm.keys", "missing", "")],
    "py_starttls_tls13_aes256gcm": [("py_starttls_tls13_aes256gcm.flipped.keys", "failed", "tls_decrypt_failed")],
    "py_implicit_tls13_chacha20": [("curl_starttls_tls13.keys", "missing", "")],
}
DSB = "py_starttls_tls13_aes128gcm"   # the session also written as pcapng with its secrets inside


def make_expect(out, name, *extra):
    run([PY, os.path.join(ROOT, "tests", "tls", "make_expect.py"), out, name] + list(extra))


def lab(out):
    if not os.path.exists(os.path.join(CERTS, "mail.key")):
        make_certs(CERTS)
    os.makedirs(out, exist_ok=True)
    import shutil
    names = [n for n, spec in SESSIONS.items() if spec.get("server") != "exim" or shutil.which("exim")]
    for n in SESSIONS:
        if n not in names:
            print("tls_lab: %s skipped (no exim; apt-get install exim4-daemon-light, record, remove it)" % n)
    for n in names:
        record(n, SESSIONS[n], out)
    for n in WRONG:
        for k, _, _ in WRONG[n]:
            if k.endswith(".flipped.keys"):
                flip_keys(os.path.join(out, n + ".keys"), os.path.join(out, k))
    dsb = os.path.join(out, DSB + ".dsb.pcapng")
    run(["editcap", "--inject-secrets", "tls," + os.path.join(out, DSB + ".keys"), os.path.join(out, DSB + ".pcap"),
         dsb])
    for n in names:
        extra = []
        for k, st, an in WRONG.get(n, []):
            extra += ["--wrong", "%s:%s:%s" % (k, st, an)]
        make_expect(out, n, *extra)
    make_expect(out, DSB, "--capture", DSB + ".dsb.pcapng", "--keylog", "none")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd = sys.argv[1]
    if cmd == "server":
        return server_main(sys.argv[2:])
    if cmd == "certs":
        return make_certs(sys.argv[2] if len(sys.argv) > 2 else CERTS)
    if cmd == "lab":
        return lab(sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "tests", "tls"))
    if cmd == "list":
        print("\n".join(SESSIONS))
        return
    if cmd == "record":
        out = sys.argv[2]
        names = sys.argv[3:] or list(SESSIONS)
        port = int(os.environ["LAB_PORT"]) if os.environ.get("LAB_PORT") else None
        os.makedirs(out, exist_ok=True)
        for n in names:
            record(n, SESSIONS[n], out, port)
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
