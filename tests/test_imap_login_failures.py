"""Failed logins over IMAP and POP3, as the login processes handle them
(lib-login/login_conn, login_plain): the replies to bad AUTHENTICATE /
AUTH PLAIN responses, the hold after each failure (growing with the
failures: IMAP counts those from the client's address in the process,
POP3 those on the connection), and the end of a session after three
failures."""
import base64
import time

import pytest

from imap_helpers import Raw, start_instance

USER = "demo@example.test"


def b64(data):
    return base64.b64encode(data).decode()


def plain(inst, authz=b"", extra=b""):
    """A PLAIN response for the demo user with the right password
    (followed by extra bytes)."""
    return b64(authz + b"\0" + USER.encode() + b"\0" +
               inst.password.encode() + extra)


@pytest.fixture
def inst(make_instance):
    return start_instance(make_instance)


# (line sent or None, reply expected: the whole line, or "...": its start)
# up to the end of the session after the third failed login.  Aborted and
# undecodable responses are not failed logins.
THREE_FAILURES = {
    "imap": [
        (None, "* OK..."),
        ("a1 AUTHENTICATE PLAIN", "+ "),
        ("*", "a1 BAD Authentication aborted by client."),
        ("a2 AUTHENTICATE PLAIN AGR!bW8AcHc=",
         "a2 BAD Invalid base64 data in AUTHENTICATE response."),
        ("a3 AUTHENTICATE PLAIN {nonul}",
         "a3 NO [AUTHENTICATIONFAILED] Invalid PLAIN data."),
        ("a4 AUTHENTICATE PLAIN {other}",
         "a4 NO [AUTHENTICATIONFAILED] Authentication failed."),
        ('a5 LOGIN "{user}" "wrong"',
         "a5 NO [AUTHENTICATIONFAILED] Authentication failed."),
        (None, "* BYE Too many authentication failures."),
    ],
    "pop3": [
        (None, "+OK..."),
        ("AUTH PLAIN", "+ "),
        ("*", "-ERR Authentication aborted."),
        ("AUTH PLAIN AGR!bW8AcHc=", "-ERR Invalid base64 data."),
        ("AUTH PLAIN {nonul}", "-ERR [AUTH] Authentication failed."),
        ("AUTH PLAIN {other}", "-ERR [AUTH] Authentication failed."),
        ("USER {user}", "+OK"),
        ("PASS wrong", "-ERR [AUTH] Authentication failed."),
        (None, "-ERR Too many authentication failures."),
    ],
}


@pytest.mark.parametrize("proto", sorted(THREE_FAILURES))
def test_plain_responses_and_three_failures(inst, proto):
    r = Raw(inst.ports[proto])
    for send, want in THREE_FAILURES[proto]:
        if send is not None:
            r.send(send.format(user=USER, nonul=b64(b"nonul"),
                               other=plain(inst, authz=b"other")) + "\r\n")
        got = r.line(30)
        if want.endswith("..."):
            assert got.startswith(want[:-3]), got
        else:
            assert got == want
    assert r.closed()


def test_password_with_nul_is_refused(inst):
    """IMAP and POP3 alike: the password ends at the end of the PLAIN
    message, not at a NUL inside it."""
    r = Raw(inst.ports["imap"])
    r.line()
    out = r.cmd("a1", "AUTHENTICATE PLAIN " + plain(inst, extra=b"\0x"))
    # a third NUL makes the message malformed (RFC 4616), as for smtpd
    assert out[-1] == "a1 NO [AUTHENTICATIONFAILED] Invalid PLAIN data."
    out = r.cmd("a2", "AUTHENTICATE PLAIN " + plain(inst), timeout=30)
    assert out[-1].startswith("a2 OK"), out
    p = Raw(inst.ports["pop3"])
    p.line()
    p.send("AUTH PLAIN " + plain(inst, extra=b"\0x") + "\r\n")
    assert p.line(30) == "-ERR [AUTH] Authentication failed."
    p.send("AUTH PLAIN " + plain(inst) + "\r\n")
    assert p.line(30).startswith("+OK"), "right password refused"


def held(r, send, first, tag):
    """Seconds from sending a failing login to the answer to the command
    `tag` pipelined behind it: at least the hold after the failure reply
    `first` (it starts after the send, so however slow the machine)."""
    t0 = time.monotonic()
    r.send(send)
    assert r.line(30).startswith(first)
    r.until(tag, 30)
    return time.monotonic() - t0


def test_imap_hold_grows_with_failures(make_instance):
    """Held imapd_auth_failure_delay times the failures from the client's
    address in this imap-login process (at most 8): here those of one
    connection (another connection may be served by another process)."""
    inst = start_instance(make_instance, {"imapd_auth_failure_delay": "1"})
    r = Raw(inst.ports["imap"])
    r.line()
    bad = 'LOGIN "%s" "wrong"\r\n' % USER
    assert held(r, "a1 " + bad + "a2 NOOP\r\n", "a1 NO", "a2") >= 1
    assert held(r, "b1 " + bad + "b2 NOOP\r\n", "b1 NO", "b2") >= 2


def test_pop3_hold_grows_with_failures_on_the_connection(make_instance):
    inst = start_instance(make_instance, {"pop3d_auth_failure_delay": "1"})
    r = Raw(inst.ports["pop3"])
    r.line()
    bad = "AUTH PLAIN " + b64(b"nonul") + "\r\n"
    for n in (1, 2):
        # held n s after the n-th failure; the hold starts after the send
        t0 = time.monotonic()
        r.send(bad + "NOOP\r\n")
        assert r.line(30) == "-ERR [AUTH] Authentication failed."
        assert r.line(30) == "+OK"
        assert time.monotonic() - t0 >= n
