#!/usr/bin/env python3
"""TLS/AUTH micro-benchmark on a fresh test instance (loopback only):
STARTTLS handshakes per second, full vs resumed (TLS 1.3 tickets and
TLS 1.2), and SMTP AUTH PLAIN round trips (SHA512-CRYPT user, through
the auth service).  Usage: bench/tls/run.py [N]  (TEMPEST_BIN as for
the tests)."""
import base64
import os
import smtplib
import socket
import ssl
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import conftest  # noqa: E402


def ctx(maxv):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    c.maximum_version = maxv
    return c


def handshakes(port, c, n, resume):
    session = None
    t = time.monotonic()
    reused = 0
    for _ in range(n):
        s = smtplib.SMTP("127.0.0.1", port, timeout=10)
        s.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.ehlo("bench")
        s.docmd("STARTTLS")
        tls = c.wrap_socket(s.sock, session=session if resume else None)
        tls.sendall(b"NOOP\r\n")
        tls.recv(100)           # also lets the TLS 1.3 tickets arrive
        reused += tls.session_reused
        if resume and session is None:
            session = tls.session
        tls.sendall(b"QUIT\r\n")
        tls.close()
    return n / (time.monotonic() - t), reused


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    tmp = tempfile.mkdtemp(prefix="tempest-bench-")
    os.chmod(tmp, 0o755)
    inst = conftest.Instance(os.path.join(tmp, "i"), extra={
        "smtpd_sasl_auth_enable": "yes", "smtpd_tls_auth_only": "no",
        "smtpd_tls_loglevel": "0"})
    inst.start()
    try:
        for name, v in (("TLS 1.3", ssl.TLSVersion.TLSv1_3),
                        ("TLS 1.2", ssl.TLSVersion.TLSv1_2)):
            full, _ = handshakes(inst.smtp_port, ctx(v), n, False)
            res, reused = handshakes(inst.smtp_port, ctx(v), n, True)
            print("%s STARTTLS: full %.0f/s, resumed %.0f/s (%d of %d "
                  "reused)" % (name, full, res, reused, n - 1))
        msg = base64.b64encode(b"\0demo@example.test\0" +
                               inst.password.encode()).decode()
        s = smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=10)
        s.ehlo("bench")
        lat = []
        for _ in range(n):
            t = time.monotonic()
            code, _ = s.docmd("AUTH", "PLAIN " + msg)
            lat.append(time.monotonic() - t)
            assert code == 235, code
            s.close()
            s = smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=10)
            s.ehlo("bench")
        lat.sort()
        print("AUTH PLAIN (SHA512-CRYPT via auth service): median %.1f ms, "
              "p95 %.1f ms" % (1000 * lat[len(lat) // 2],
                               1000 * lat[int(len(lat) * 0.95)]))
    finally:
        inst.stop()


if __name__ == "__main__":
    main()
