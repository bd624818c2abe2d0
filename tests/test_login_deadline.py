"""Before login, imap-login and pop3-login give a client imapd_login_timeout
and pop3d_login_timeout in total, not per read: a client that trickles a
byte now and then (each read well inside the timeout) is disconnected
when the time is up, and its login slot is free again.  Raw sockets."""
import socket
import time

from conftest import wait_for
from imap_helpers import start_instance

LIMIT = 4       # seconds, both protocols


def trickle(port, greeting):
    """Connect, read the greeting, send a byte per second; the seconds
    until the server closed (None after 40 s) and what it sent."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    f = s.makefile("rb")
    assert f.readline().startswith(greeting)
    start = time.monotonic()
    got = b""
    s.settimeout(1.0)
    try:
        while time.monotonic() - start < 40:
            s.sendall(b"x")
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                continue
            if not chunk:
                return time.monotonic() - start, got
            got += chunk
    except OSError:         # reset: closed with a trickled byte unread
        return time.monotonic() - start, None
    finally:
        f.close()
        s.close()
    return None, got


def test_trickling_clients_are_cut_off_before_login(make_instance):
    inst = start_instance(make_instance, {
        "imapd_login_timeout": "%ds" % LIMIT,
        "pop3d_login_timeout": "%ds" % LIMIT})
    took, got = trickle(inst.ports["imap"], b"* OK")
    assert took is not None and took >= LIMIT - 1, (took, got)
    assert got is None or b"* BYE Disconnected for inactivity." in got, got
    took, got = trickle(inst.ports["pop3"], b"+OK")
    assert took is not None and took >= LIMIT - 1, (took, got)
    assert wait_for(lambda: inst.log().count(
        "no login within the time limit [127.0.0.1]") == 2, 20), inst.log()


def test_login_in_time_is_not_cut_off(make_instance):
    # the deadline is about logging in: a session that did goes on
    import imaplib
    inst = start_instance(make_instance, {"imapd_login_timeout": "%ds" % LIMIT})
    c = imaplib.IMAP4("127.0.0.1", inst.ports["imap"], timeout=30)
    c.login("demo@example.test", inst.password)
    time.sleep(LIMIT + 2)
    assert c.noop()[0] == "OK"
    c.logout()
    assert "no login within the time limit" not in inst.log()
