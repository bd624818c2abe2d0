"""Helpers of the outbound tests: a real DNS server (Debian's unbound with
local-data on a free 127.0.0.1 port) and a small scriptable SMTP server
that counts connections, for the cases a Tempest receiver cannot show
(4xx then 2xx, STARTTLS seen from the server, concurrency)."""
import base64
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import free_port, wait_for

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"


class DNSServer:
    """unbound answering only the zones given; everything else is
    REFUSED, so nothing ever leaves 127.0.0.1."""

    def __init__(self, records):
        self.dir = tempfile.mkdtemp(prefix="tempest-dns-")
        self.port = free_udp_port()
        lines = [
            "server:",
            "  interface: 127.0.0.1",
            f"  port: {self.port}",
            "  do-ip6: no",
            "  do-daemonize: no",
            '  username: ""',
            '  chroot: ""',
            f'  directory: "{self.dir}"',
            f'  pidfile: "{self.dir}/unbound.pid"',
            "  use-syslog: no",
            f'  logfile: "{self.dir}/unbound.log"',
            "  verbosity: 1",
            "  access-control: 127.0.0.0/8 allow",
            '  module-config: "iterator"',
            '  local-zone: "." refuse',
            '  local-zone: "test." static',
        ]
        for r in records:
            lines.append(f'  local-data: "{r}"')
        lines += ["remote-control:", "  control-enable: no"]
        self.conf = os.path.join(self.dir, "unbound.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        log = os.path.join(self.dir, "unbound.log")
        ok = wait_for(lambda: os.path.exists(log) and
                      "start of service" in open(log).read(), 10)
        if not ok:
            self.stop()
            raise RuntimeError("unbound did not start")

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def free_udp_port():
    while True:
        p = free_port()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
        finally:
            s.close()


def make_cert(d, cn="mx.remote.test"):
    """A self-signed certificate for the test server."""
    key = os.path.join(d, "key.pem")
    crt = os.path.join(d, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "2",
                    "-subj", "/CN=" + cn, "-addext",
                    "subjectAltName=DNS:" + cn],
                   check=True, capture_output=True)
    return crt, key


class SMTPServer:
    """A threaded SMTP server on 127.0.0.1.

    rcpt_replies: list of replies used for successive RCPT commands (then
    "250 2.1.5 Ok" forever).  tls: (cert, key) to offer STARTTLS.
    Records connections, the peak of simultaneous ones, the messages
    (envelope + data) and whether each message came over TLS."""

    def __init__(self, rcpt_replies=(), data_replies=(), tls=None,
                 pipelining=True, delay=0.0, host="127.0.0.1",
                 tls_broken=False, smtputf8=False, eightbitmime=True,
                 dsn=False, gate=None, auth=None, auth_replies=(),
                 scram_final="v=" + "A" * 43 + "="):
        # auth: an AUTH mechanism list to offer in EHLO ("PLAIN LOGIN");
        # auth_replies: the final replies to successive AUTH dialogues
        # (then "535 5.7.8 Error: authentication failed"); a LOGIN
        # dialogue gets the two 334 challenges first
        self.auth = auth
        # SCRAM-SHA-256 offered in auth: the server plays an impostor
        # (_scram_impostor) ending with scram_final (None: none)
        self.scram_final = scram_final
        self.auth_replies = list(auth_replies)
        # gate: a threading.Event the server waits for (60 s at most)
        # before answering the final dot - a delivery held in flight
        self.gate = gate
        self.tls_broken = tls_broken
        self.eightbitmime = eightbitmime
        self.smtputf8 = smtputf8
        # dsn: offer DSN (RFC 3461), so the client sends its parameters
        self.dsn = dsn
        self.rcpt_replies = list(rcpt_replies)
        self.data_replies = list(data_replies)
        self.tls = tls
        self.pipelining = pipelining
        self.delay = delay
        self.lock = threading.Lock()
        self.connections = 0
        self.peers = []
        self.current = 0
        self.peak = 0
        self.messages = []
        self.commands = []
        # (seconds since start, connection number, event): what the
        # server did and when, for the diagnostics of a stalled test
        self.trace = []
        self.t0 = time.monotonic()
        self.sock = socket.socket(socket.AF_INET6 if ":" in host
                                  else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(50)
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True,
                         name=f"smtpserver-{self.port}-accept").start()

    def _log(self, n, event):
        with self.lock:
            self.trace.append((round(time.monotonic() - self.t0, 3), n,
                               event))

    def stop(self):
        self.stopping = True
        try:
            # wake the accept() thread before the descriptor number can
            # be reused by another test's listening socket
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError as e:
                self._log(0, f"accept ends: {e!r}")
                return
            if self.stopping:
                c.close()
                return
            with self.lock:
                self.connections += 1
                n = self.connections
            try:
                threading.Thread(target=self._serve, args=(c, n),
                                 daemon=True,
                                 name=f"smtpserver-{self.port}-conn{n}"
                                 ).start()
            except BaseException as e:
                # the client must not wait for a greeting that never
                # comes: it sees the connection end instead
                self._log(n, f"cannot serve: {e!r}")
                c.close()
                raise

    def _serve(self, c, n):
        with self.lock:
            try:
                peer = c.getpeername()
                self.peers.append(peer[0])
            except OSError as e:
                peer = e
            self.current += 1
            self.peak = max(self.peak, self.current)
        self._log(n, f"accepted from {peer}")
        try:
            self._session(c, n)
        except (OSError, ssl.SSLError) as e:
            self._log(n, f"ended: {e!r}")
        except BaseException as e:
            self._log(n, f"failed: {e!r}")
            raise
        finally:
            with self.lock:
                self.current -= 1
            self._log(n, "closed")
            try:
                c.close()
            except OSError:
                pass

    def _session(self, c, n):
        f = c.makefile("rb")
        tls = False

        def send(s):
            c.sendall((s + "\r\n").encode())
            self._log(n, "sent " + s[:20])

        send("220 test.example ESMTP")
        mail, rcpts = None, []
        while True:
            line = f.readline()
            if not line:
                self._log(n, "end of input")
                return
            cmd = line.decode("utf-8", "replace").rstrip("\r\n")
            with self.lock:
                self.commands.append(cmd)
            self._log(n, "got " + cmd[:20])
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                ext = ["SIZE 1000000"]
                if self.eightbitmime:
                    ext.append("8BITMIME")
                if self.pipelining:
                    ext.append("PIPELINING")
                if self.smtputf8:
                    ext.append("SMTPUTF8")
                if self.dsn:
                    ext.append("DSN")
                if self.auth:
                    ext.append("AUTH " + self.auth)
                if (self.tls or self.tls_broken) and not tls:
                    ext.append("STARTTLS")
                send("250-test.example")
                for e in ext[:-1]:
                    send("250-" + e)
                send("250 " + ext[-1])
            elif verb == "HELO":
                send("250 test.example")
            elif verb == "STARTTLS" and self.tls_broken:
                send("220 2.0.0 go ahead")
                c.sendall(b"this is not TLS\r\n")
                return
            elif verb == "STARTTLS" and self.tls and not tls:
                send("220 2.0.0 go ahead")
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(*self.tls)
                c = ctx.wrap_socket(c, server_side=True)
                f = c.makefile("rb")
                tls = True
            elif verb == "MAIL":
                mail, rcpts = cmd[10:].split(">")[0].lstrip("<"), []
                send("250 2.1.0 Ok")
            elif verb == "RCPT":
                with self.lock:
                    r = self.rcpt_replies.pop(0) if self.rcpt_replies \
                        else "250 2.1.5 Ok"
                if r.startswith("2"):
                    rcpts.append(cmd[8:].split(">")[0].lstrip("<"))
                send(r)
            elif verb == "DATA":
                if not rcpts:
                    send("554 5.5.1 no valid recipients")
                    continue
                send("354 go ahead")
                data = b""
                while True:
                    l = f.readline()
                    if not l or l == b".\r\n":
                        break
                    data += l[1:] if l.startswith(b"..") else l
                self._log(n, f"content {len(data)} bytes, "
                          f"{'end of input' if not l else 'final dot'}")
                if self.delay:
                    time.sleep(self.delay)
                if self.gate is not None:
                    opened = self.gate.wait(60)
                    self._log(n, "gate open" if opened else
                              "gate still closed after 60 s")
                with self.lock:
                    r = self.data_replies.pop(0) if self.data_replies \
                        else "250 2.0.0 queued"
                    if r.startswith("2"):
                        self.messages.append({"from": mail, "to": rcpts,
                                              "data": data, "tls": tls})
                send(r)
                mail, rcpts = None, []
            elif verb == "AUTH" and self.auth:
                if cmd.split()[1:2] == ["SCRAM-SHA-256"]:
                    self._scram_impostor(cmd, f, send)
                elif cmd.split()[1:2] == ["LOGIN"]:
                    for challenge in ("VXNlcm5hbWU6", "UGFzc3dvcmQ6"):
                        send("334 " + challenge)
                        answer = f.readline().decode("ascii", "replace")
                        with self.lock:
                            self.commands.append(answer.rstrip("\r\n"))
                with self.lock:
                    r = self.auth_replies.pop(0) if self.auth_replies \
                        else "535 5.7.8 Error: authentication failed"
                send(r)
            elif verb == "RSET":
                mail, rcpts = None, []
                send("250 2.0.0 Ok")
            elif verb == "QUIT":
                send("221 2.0.0 Bye")
                return
            else:
                send("502 5.5.2 unknown command")

    def _scram_impostor(self, cmd, f, send):
        """A server that does not know the password: a well-formed
        server-first message, then (unless scram_final is None) the
        server-final scram_final; the client's answers are recorded."""
        first = base64.b64decode(cmd.split()[2]).decode()
        cnonce = first.split(",r=", 1)[1].split(",")[0]
        steps = [f"r={cnonce}impostor,s=c2FsdHNhbHRzYWx0,i=4096"]
        if self.scram_final is not None:
            steps.append(self.scram_final)
        for step in steps:
            send("334 " + base64.b64encode(step.encode()).decode())
            answer = f.readline().decode("ascii", "replace")
            with self.lock:
                self.commands.append(answer.rstrip("\r\n"))
            if answer.strip() == "*":
                break


class HoldingDNS:
    """A tiny authoritative DNS server on 127.0.0.1 for the asynchronous
    DNS test: A records from `hosts` (name -> IPv4), no MX (so the domain
    is its own implicit MX), NXDOMAIN for other names.  Questions about
    names in `hold` are kept unanswered until release() - a name server
    that is slow for one zone only."""

    def __init__(self, hosts, hold=()):
        self.hosts = {k.lower().rstrip("."): v for k, v in hosts.items()}
        self.hold = {h.lower().rstrip(".") for h in hold}
        self.held = []
        self.questions = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True,
                                       name=f"holdingdns-{self.port}")
        self.thread.start()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def held_names(self):
        with self.lock:
            return [q[2] for q in self.held]

    def release(self):
        with self.lock:
            self.hold = set()
            held, self.held = self.held, []
        for pkt, peer, _ in held:
            self.sock.sendto(self._answer(pkt), peer)

    def stop(self):
        self.stopping = True
        try:
            # wakes the thread blocked in recvfrom(): close() alone does
            # not, and it would sit there for the rest of the test run,
            # holding the port (shutdown of an unconnected UDP socket
            # says ENOTCONN but wakes the reader all the same)
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(5)
        self.sock.close()

    def _serve(self):
        while not self.stopping:
            try:
                pkt, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            name = self._qname(pkt)
            if name is None:
                continue
            with self.lock:
                self.questions.append(name)
                if name in self.hold:
                    self.held.append((pkt, peer, name))
                    continue
            try:
                self.sock.sendto(self._answer(pkt), peer)
            except OSError:
                return

    @staticmethod
    def _qname(pkt):
        labels, i = [], 12
        try:
            while pkt[i]:
                n = pkt[i]
                labels.append(pkt[i + 1:i + 1 + n].decode("ascii").lower())
                i += 1 + n
        except (IndexError, UnicodeDecodeError):
            return None
        return ".".join(labels)

    def _answer(self, pkt):
        import struct
        end = 12
        while pkt[end]:
            end += 1 + pkt[end]
        end += 5                      # root label, QTYPE, QCLASS
        qtype = struct.unpack("!H", pkt[end - 4:end - 2])[0]
        name = self._qname(pkt)
        answers = b""
        rcode, count = 0, 0
        if name not in self.hosts:
            rcode = 3                 # NXDOMAIN
        elif qtype == 1:
            addr = socket.inet_aton(self.hosts[name])
            answers = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + addr
            count = 1
        flags = 0x8400 | 0x0100 | rcode     # QR AA RD
        hdr = struct.pack("!HHHHHH", struct.unpack("!H", pkt[:2])[0],
                          flags, 1, count, 0, 0)
        return hdr + pkt[12:end] + answers


@pytest.fixture
def server_factory():
    """SMTPServer(**kw) for a test, each stopped at its end (import the
    fixture into the test module to use it)."""
    made = []

    def factory(**kw):
        s = SMTPServer(**kw)
        made.append(s)
        return s
    yield factory
    for s in made:
        s.stop()
