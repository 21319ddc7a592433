#!/usr/bin/python3
"""A real SMTP server for tests/t_live.sh: aiosmtpd (Debian's python3-aiosmtpd,
hence /usr/bin/python3) on 127.0.0.1:PORT, with AUTH LOGIN/PLAIN offered in
clear text (auth_require_tls=False) and checked against one account.

    /usr/bin/python3 tests/live_server.py PORT [USER PASSWORD]

Prints "ready" on standard output once it listens; accepts every message
(and counts it on standard error); stops on SIGTERM/SIGINT.
"""

import signal
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self):
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        print("message %d from %s to %s (%d bytes)" % (self.n, envelope.mail_from, ",".join(envelope.rcpt_tos),
                                                       len(envelope.content or b"")), file=sys.stderr, flush=True)
        return "250 2.0.0 Ok: queued as LIVE%d" % self.n


def make_authenticator(user, password):
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        return AuthResult(success=ok, handled=False)
    return authenticator


def main():
    port = int(sys.argv[1])
    user = sys.argv[2] if len(sys.argv) > 2 else "vasiapupkin"
    password = sys.argv[3] if len(sys.argv) > 3 else "123456"
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port, server_hostname="mx.live.test",
                     authenticator=make_authenticator(user, password), auth_require_tls=False,
                     auth_exclude_mechanism=["CRAM-MD5"])
    ctl.start()
    print("ready", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    done.wait()
    ctl.stop()


if __name__ == "__main__":
    main()
