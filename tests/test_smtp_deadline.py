"""smtpd_per_request_deadline (Postfix name): smtpd_timeout bounds the
time to receive a whole command, and message content must arrive at
smtpd_min_data_rate at least, so a client that trickles one byte per
read timeout cannot hold a session forever.  Raw sockets: each test
sends single bytes well inside smtpd_timeout."""
import socket
import time

from conftest import wait_for

TIMEOUT = 4     # smtpd_timeout in these tests


def start(make_instance, name, **extra):
    return make_instance(name, extra=dict(
        {"smtpd_timeout": "%ds" % TIMEOUT}, **extra)).start()


def session(inst):
    s = socket.create_connection(("127.0.0.1", inst.smtp_port), timeout=60)
    f = s.makefile("rb")
    assert f.readline().startswith(b"220 ")
    return s, f


def command(s, f, line, code):
    s.sendall(line + b"\r\n")
    reply = f.readline()
    while reply[3:4] == b"-":
        reply = f.readline()
    assert reply.startswith(code), (line, reply)


def trickle(s, data, interval, limit):
    """Send data one byte per interval until the server closes, limit
    seconds pass or data ends; returns the seconds it took the server to
    close (None if it did not) and what it sent.  When the server closes
    with a trickled byte still unread, the kernel resets the connection
    and the 421 before it may be lost: got is None then."""
    start = time.monotonic()
    got = b""
    s.settimeout(interval)
    for b in data:
        try:
            s.sendall(bytes([b]))
            chunk = s.recv(4096)
            if not chunk:
                return time.monotonic() - start, got
            got += chunk
        except socket.timeout:
            pass
        except OSError:         # reset (or EPIPE): the server closed
            return time.monotonic() - start, None
        if time.monotonic() - start > limit:
            return None, got
    return None, got


def test_trickled_command_times_out(make_instance):
    inst = start(make_instance, "dlcmd")
    s, f = session(inst)
    # one byte per second: each read is well inside smtpd_timeout, the
    # whole command never ends
    took, got = trickle(s, b"NOOP" + b"x" * 200, 1.0, 60)
    s.close()
    assert took is not None, got
    assert got is None or (b"421 4.4.2 " in got and
                           b"Error: timeout exceeded" in got), got
    assert took >= TIMEOUT - 1, took
    assert wait_for(lambda: "timeout after CONNECT from unknown[127.0.0.1]"
                    in inst.log(), 20), inst.log()


def test_trickled_content_times_out(make_instance):
    inst = start(make_instance, "dldata", smtpd_min_data_rate="100")
    s, f = session(inst)
    command(s, f, b"EHLO client.example", b"250 ")
    command(s, f, b"MAIL FROM:<a@example.org>", b"250")
    command(s, f, b"RCPT TO:<demo@example.test>", b"250")
    command(s, f, b"DATA", b"354")
    # content at ~3 bytes/s: the deadline is smtpd_timeout plus one
    # second per 100 bytes received
    took, got = trickle(s, b"Subject: slow\r\n\r\n" + b"x" * 300, 0.3, 60)
    s.close()
    assert took is not None, got
    assert got is None or b"421 4.4.2 " in got, got
    assert wait_for(lambda: "timeout after DATA from unknown[127.0.0.1]"
                    in inst.log(), 20), inst.log()
    assert inst.messages() == []


def test_slow_but_steady_content_is_accepted(make_instance):
    # 24 KB over ~6 s (> smtpd_timeout) at ~4 KB/s, above the 500 B/s
    # minimum: the deadline grows with the content
    inst = start(make_instance, "dlsteady")
    s, f = session(inst)
    command(s, f, b"EHLO client.example", b"250 ")
    command(s, f, b"MAIL FROM:<a@example.org>", b"250")
    command(s, f, b"RCPT TO:<demo@example.test>", b"250")
    command(s, f, b"DATA", b"354")
    s.sendall(b"Subject: steady\r\n\r\n")
    line = b"y" * 78 + b"\r\n"
    for _ in range(20):
        s.sendall(line * 15)
        time.sleep(0.3)
    command(s, f, b".", b"250 ")
    command(s, f, b"QUIT", b"221")
    s.close()
    assert inst.wait_messages(1), inst.log()


def test_per_read_timeout_without_deadline(make_instance):
    # smtpd_per_request_deadline = no: only each read is timed (the old
    # behaviour), so the trickling client is still there after twice
    # smtpd_timeout, and its command is then served
    inst = start(make_instance, "dlno", smtpd_per_request_deadline="no")
    s, f = session(inst)
    took, got = trickle(s, b"NOOP", 2.0, 60)
    assert took is None and got == b"", (took, got)
    command(s, f, b"", b"250")
    s.close()
