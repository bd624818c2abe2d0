"""Every TLS session Tempest's servers end is closed with a close_notify
alert (RFC 8446 6.1) before the TCP connection goes: SMTP after QUIT
(STARTTLS and SMTPS), IMAP after LOGOUT and POP3 after QUIT (STARTTLS
and implicit TLS).  Without it OpenSSL 3 clients (openssl s_client,
Python with suppress_ragged_eofs=False) report "unexpected eof" and
cannot tell the end of the session from a truncation.  (Found by
tests/test_interop_openssl.py.)"""
import socket
import ssl

from imap_helpers import start_instance


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    # report a TCP close without close_notify (Python may set this)
    c.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    return c


class Conn:
    def __init__(self, port, implicit):
        self.s = socket.create_connection(("127.0.0.1", port), 30)
        self.s.settimeout(30)
        if implicit:
            self.tls()
        self.buf = b""

    def tls(self):
        self.s = ctx().wrap_socket(self.s, suppress_ragged_eofs=False)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(4096)
            assert d, "closed early"
            self.buf += d
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln.decode()

    def until(self, pred):
        while True:
            ln = self.line()
            if pred(ln):
                return ln

    def cmd(self, text, pred):
        self.s.sendall(text.encode() + b"\r\n")
        return self.until(pred)

    def end(self):
        """Read to the end: b'' after the peer's close_notify; a raw
        TCP close raises an "unexpected eof" SSLError."""
        while True:
            try:
                d = self.s.recv(4096)
            except (ssl.SSLEOFError, ssl.SSLError) as e:
                raise AssertionError("TLS closed without close_notify: %s" % e)
            if not d:
                return

def smtp_session(inst, port_name, starttls):
    c = Conn(inst.ports[port_name], not starttls)
    c.line()
    if starttls:
        c.cmd("EHLO t.test", lambda ln: ln.startswith("250 "))
        assert c.cmd("STARTTLS", lambda ln: True).startswith("220")
        c.tls()
    c.cmd("EHLO t.test", lambda ln: ln.startswith("250 "))
    assert c.cmd("QUIT", lambda ln: True).startswith("221")
    c.end()


def imap_session(inst, port_name, starttls):
    c = Conn(inst.ports[port_name], not starttls)
    c.line()
    if starttls:
        assert "OK" in c.cmd("s1 STARTTLS", lambda ln: ln.startswith("s1 "))
        c.tls()
    c.cmd(f"a1 LOGIN demo@example.test {inst.password}",
          lambda ln: ln.startswith("a1 "))
    assert c.cmd("a2 LOGOUT", lambda ln: ln.startswith("a2 ")).startswith("a2 OK")
    c.end()


def pop3_session(inst, port_name, starttls):
    c = Conn(inst.ports[port_name], not starttls)
    c.line()
    if starttls:
        assert c.cmd("STLS", lambda ln: True).startswith("+OK")
        c.tls()
    c.cmd("USER demo@example.test", lambda ln: True)
    assert c.cmd("PASS " + inst.password, lambda ln: True).startswith("+OK")
    assert c.cmd("QUIT", lambda ln: True).startswith("+OK")
    c.end()


def test_servers_send_close_notify(make_instance):
    inst = start_instance(make_instance)
    smtp_session(inst, "smtp", True)
    smtp_session(inst, "smtps", False)
    imap_session(inst, "imap", True)
    imap_session(inst, "imaps", False)
    pop3_session(inst, "pop3", True)
    pop3_session(inst, "pop3s", False)
