"""Helpers shared by the IMAP/POP3 end-to-end tests: a raw line client
and the conversation-script runner (tests/imap-scripts/*.txt)."""
import os
import re
import socket
import ssl
import time

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "imap-scripts")


def start_instance(make_instance, extra=None, **kw):
    """A started instance with the IMAP (and POP3) listeners up.  The
    services run as mail_owner when the tests run as root, so the
    instance's parent directory must be searchable for them."""
    from conftest import wait_port, wait_for
    settings = {"auth_failure_delay": "0"}
    settings.update(extra or {})
    inst = make_instance(extra=settings, **kw)
    os.chmod(os.path.dirname(inst.dir), 0o755)
    inst.start()
    for name in ("imap", "imaps", "pop3", "pop3s"):
        wait_port(inst.ports[name], proc=inst.proc)
    # the login processes have told the post-login masters that the
    # probes are gone (per-IP limits count over all processes)
    assert wait_for(lambda: inst.log().count("disconnect before login") >= 4,
                    30), "probe connections not closed"
    return inst


class Raw:
    """A plain socket client speaking raw protocol lines."""

    def __init__(self, port, tls=False, timeout=10):
        s = socket.create_connection(("127.0.0.1", port), timeout)
        if tls:
            ctx = ssl._create_unverified_context()
            s = ctx.wrap_socket(s)
        self.s = s
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def line(self, timeout=10):
        end = time.time() + timeout
        while b"\r\n" not in self.buf:
            self.s.settimeout(max(0.05, end - time.time()))
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                raise TimeoutError("no line; have %r" % self.buf[:200])
            if not d:
                raise EOFError("closed; have %r" % self.buf[:200])
            self.buf += d
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln.decode("utf-8", "replace")

    def read(self, n, timeout=10):
        end = time.time() + timeout
        while len(self.buf) < n:
            self.s.settimeout(max(0.05, end - time.time()))
            d = self.s.recv(65536)
            if not d:
                raise EOFError("closed")
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def until(self, tag, timeout=10):
        """Lines up to and including the tagged reply; literals inlined."""
        out = []
        while True:
            ln = self.line(timeout)
            m = re.search(r"\{(\d+)\}$", ln)
            if m:
                ln += "\r\n" + self.read(int(m.group(1)), timeout).decode("utf-8", "replace")
                ln += self.line(timeout)
            out.append(ln)
            if ln.startswith(tag + " "):
                return out

    def cmd(self, tag, text, timeout=10):
        self.send(tag + " " + text + "\r\n")
        return self.until(tag, timeout)

    def closed(self, timeout=5):
        """True once the server has closed the connection."""
        end = time.time() + timeout
        while time.time() < end:
            self.s.settimeout(max(0.05, end - time.time()))
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, ssl.SSLError):
                return True
            if not d:
                return True
            self.buf += d
        return False

    def close(self):
        self.s.close()


def run_script(path, port, subst):
    """Run a conversation script.

    Lines: "C: text" is sent (with CRLF; "\\r\\n" escapes allowed, and
    "C-: text" is sent without a line end), "S: regex" must match the next
    server line (full match), "S*: regex" skips server lines until one
    matches.  {name} placeholders are replaced from subst.
    """
    r = Raw(port)
    lineno = 0
    try:
        for raw in open(path, encoding="utf-8"):
            lineno += 1
            raw = raw.rstrip("\n")
            if not raw or raw.startswith("#"):
                continue
            kind, _, text = raw.partition(":")
            text = text[1:] if text.startswith(" ") else text
            for k, v in subst.items():
                text = text.replace("{" + k + "}", v)
            if kind in ("C", "C-"):
                data = text.replace("\\r\\n", "\r\n")
                r.send(data + ("\r\n" if kind == "C" else ""))
            elif kind == "S":
                got = r.line()
                assert re.fullmatch(text, got), \
                    "%s:%d: expected /%s/, got %r" % (path, lineno, text, got)
            elif kind == "S*":
                while True:
                    got = r.line()
                    if re.fullmatch(text, got):
                        break
            elif kind == "CLOSED":
                assert r.closed(), "%s:%d: connection still open" % (path, lineno)
            else:
                raise ValueError("%s:%d: bad line %r" % (path, lineno, raw))
    finally:
        r.close()


def parse_sexp(data):
    """Parse IMAP response data (lists, quoted strings, NIL, atoms,
    literals) into Python lists/str/None."""
    pos = 0

    def val():
        nonlocal pos
        while data[pos] == " ":
            pos += 1
        c = data[pos]
        if c == "(":
            pos += 1
            out = []
            while True:
                while data[pos] == " ":
                    pos += 1
                if data[pos] == ")":
                    pos += 1
                    return out
                out.append(val())
        if c == '"':
            pos += 1
            s = ""
            while data[pos] != '"':
                if data[pos] == "\\":
                    pos += 1
                s += data[pos]
                pos += 1
            pos += 1
            return s
        if c == "{":
            end = data.index("}", pos)
            n = int(data[pos + 1:end])
            start = end + 3
            pos = start + n
            return data[start:pos]
        start = pos
        while pos < len(data) and data[pos] not in " ()":
            pos += 1
        tok = data[start:pos]
        return None if tok.upper() == "NIL" else tok
    return val()


def bodystructure_shape(bs):
    """The MIME tree of a parsed BODYSTRUCTURE as nested tuples/lists."""
    if isinstance(bs[0], list):
        kids = [x for x in bs if isinstance(x, list)]
        kids = kids[:len([x for x in bs[:len(kids)] if isinstance(x, list)])]
        sub = bs[len(kids)]
        return [bodystructure_shape(k) for k in kids] + [sub.lower()]
    t, st = bs[0].lower(), bs[1].lower()
    if (t, st) == ("message", "rfc822"):
        return ("message", "rfc822", bodystructure_shape(bs[8]))
    return (t, st)
