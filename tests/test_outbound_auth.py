"""SMTP AUTH of the outbound client (smtp_sasl_*, doc/outbound.md): a
sender Tempest relays through a second Tempest's submission port
(STARTTLS and AUTH required there) with the password from
smtp_sasl_password_maps (a root-only file); a wrong password defers
(535 in the log and in mailq), never bounces; without TLS the default
security options keep PLAIN/LOGIN off the wire; the password never
reaches the sender's log.  The Python server of outbound_util records
the client's commands."""
import base64
import os
import smtplib

import pytest

from conftest import wait_for
from outbound_util import server_factory  # noqa: F401 (a fixture)

T = 40      # generous: the ASan build on a loaded 2-core machine


def make_receiver(make_instance):
    r = make_instance("receiver", extra={
        "virtual_mailbox_domains": "example.test, remote.test",
        "smtpd_sasl_authenticated_header": "yes"})
    with open(os.path.join(r.etc, "virtual"), "a") as f:
        f.write("bob@remote.test  demo@example.test\n")
    return r.start()


def make_sender(make_instance, relayhost, secret, more="", **extra):
    """A sender relaying everything to relayhost with `secret`
    (user:password) in a root-only password table keyed by relayhost."""
    snd = make_instance("sender", extra={
        "minimal_backoff_time": "1s", "maximal_backoff_time": "2s",
        "queue_run_delay": "1s",
        "relayhost": relayhost,
        "smtp_sasl_auth_enable": "yes",
        "smtp_sasl_password_maps": "texthash:$config_directory/sasl_passwd",
        **extra})
    path = os.path.join(snd.etc, "sasl_passwd")
    with open(path, "w") as f:
        f.write(f"{relayhost}  {secret}\n" + more)
    os.chmod(path, 0o600)       # root only: read before privileges drop
    return snd.start()


def send(inst, to, subject="hello", sender="demo@example.test"):
    msg = f"From: {sender}\r\nTo: {', '.join(to)}\r\nSubject: {subject}\r\n\r\nHi.\r\n"
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=20) as s:
        s.sendmail(sender, to, msg.encode())


def test_relay_through_submission_with_password(make_instance):
    recv = make_receiver(make_instance)
    relay = f"[127.0.0.1]:{recv.ports['submission']}"
    snd = make_sender(make_instance, relay,
                      "demo@example.test:" + recv.password)
    send(snd, ["bob@remote.test"], subject="authenticated")
    msgs = recv.wait_messages(1, timeout=T)
    assert len(msgs) == 1, snd.log() + recv.log()
    with open(msgs[0], "rb") as f:
        data = f.read()
    assert b"Subject: authenticated" in data
    # the receiver saw the login (its submission port relays nothing else)
    assert b"(Authenticated sender: demo@example.test)" in data, data
    assert wait_for(lambda: "status=sent" in snd.log(), T), snd.log()
    log = snd.log()
    assert "SASL authentication to 127.0.0.1[127.0.0.1] succeeded" in log
    assert "TLS connection established" in log
    assert recv.password not in log


def test_wrong_password_defers_not_bounces(make_instance):
    recv = make_receiver(make_instance)
    relay = f"[127.0.0.1]:{recv.ports['submission']}"
    wrong = "Wr0ngSecret-" + recv.password[:4]
    snd = make_sender(make_instance, relay, "demo@example.test:" + wrong)
    send(snd, ["bob@remote.test"], subject="refused login")
    assert wait_for(lambda: "status=deferred" in snd.log(), T), snd.log()
    log = snd.log()
    line = [l for l in log.splitlines() if "status=deferred" in l][0]
    assert "SASL authentication failed; server 127.0.0.1[127.0.0.1] said: 535" \
        in line, line
    assert "status=bounced" not in log
    assert wrong not in log and recv.password not in log
    assert wait_for(lambda: snd.queue_messages("deferred"), T), log
    out = snd.cmd("mailq").stdout
    assert "SASL authentication failed" in out and "535" in out, out
    assert recv.messages() == []
    # no bounce came back to the sender either
    assert snd.messages() == []


def test_no_tls_keeps_plaintext_mechanisms_off_the_wire(make_instance,
                                                         server_factory):
    srv = server_factory(auth="PLAIN LOGIN")        # no STARTTLS offered
    relay = f"[127.0.0.1]:{srv.port}"
    snd = make_sender(make_instance, relay, "u@example.test:s3cret-pw")
    send(snd, ["bob@remote.test"], subject="no tls")
    assert wait_for(lambda: "status=deferred" in snd.log(), T), snd.log()
    log = snd.log()
    assert "no mechanism available" in log, log
    assert srv.messages == []
    with srv.lock:
        cmds = list(srv.commands)
    assert cmds and cmds[0].startswith("EHLO"), cmds
    assert not any(c.upper().startswith("AUTH") for c in cmds), cmds
    assert not any(c.upper().startswith("MAIL") for c in cmds), cmds
    assert "s3cret-pw" not in log


def test_plaintext_allowed_sends_plain_and_535_defers(make_instance,
                                                       server_factory):
    srv = server_factory(auth="PLAIN LOGIN")
    relay = f"[127.0.0.1]:{srv.port}"
    snd = make_sender(make_instance, relay, "u@example.test:s3cret-pw",
                      smtp_sasl_security_options="noanonymous")
    send(snd, ["bob@remote.test"], subject="plain")
    assert wait_for(lambda: "status=deferred" in snd.log(), T), snd.log()
    with srv.lock:
        cmds = list(srv.commands)
    auth = [c for c in cmds if c.upper().startswith("AUTH")]
    assert auth, cmds
    ir = base64.b64decode(auth[0].split()[2])
    assert ir == b"\0u@example.test\0s3cret-pw"
    log = snd.log()
    assert "4.7.8 SASL authentication failed" in log, log
    assert "status=bounced" not in log
    assert "s3cret-pw" not in log
    assert srv.messages == []


def test_mechanism_filter_login(make_instance, server_factory):
    srv = server_factory(auth="PLAIN LOGIN",
                         auth_replies=["235 2.7.0 Authentication successful"])
    relay = f"[127.0.0.1]:{srv.port}"
    snd = make_sender(make_instance, relay, "u@example.test:s3cret-pw",
                      smtp_sasl_security_options="noanonymous",
                      smtp_sasl_mechanism_filter="login")
    send(snd, ["bob@remote.test"], subject="login")
    assert wait_for(lambda: len(srv.messages) == 1, T), snd.log()
    with srv.lock:
        cmds = list(srv.commands)
    i = cmds.index("AUTH LOGIN")
    assert base64.b64decode(cmds[i + 1]) == b"u@example.test"
    assert base64.b64decode(cmds[i + 2]) == b"s3cret-pw"
    assert "s3cret-pw" not in snd.log()


def test_filter_leaving_nothing_sends_without_auth(make_instance,
                                                   server_factory):
    srv = server_factory(auth="CRAM-MD5")
    relay = f"[127.0.0.1]:{srv.port}"
    snd = make_sender(make_instance, relay, "u@example.test:s3cret-pw",
                      smtp_sasl_mechanism_filter="plain, login")
    send(snd, ["bob@remote.test"], subject="unauthenticated")
    assert wait_for(lambda: len(srv.messages) == 1, T), snd.log()
    with srv.lock:
        assert not any(c.upper().startswith("AUTH") for c in srv.commands)
    assert "offered no supported AUTH mechanisms: 'CRAM-MD5'" in snd.log()


def test_changed_root_only_table_is_reopened(make_instance):
    """The smtp process (mail_owner) cannot re-read the root-only table
    after it changes: it defers, restarts, and the fresh process (which
    opens the table as root) logs in with the new password."""
    recv = make_receiver(make_instance)
    relay = f"[127.0.0.1]:{recv.ports['submission']}"
    snd = make_sender(make_instance, relay, "demo@example.test:not-it")
    send(snd, ["bob@remote.test"], subject="second try")
    assert wait_for(lambda: "status=deferred" in snd.log(), T), snd.log()
    path = os.path.join(snd.etc, "sasl_passwd")
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(f"{relay}  demo@example.test:{recv.password}\n")
    os.chmod(tmp, 0o600)
    os.rename(tmp, path)
    msgs = recv.wait_messages(1, timeout=60)
    assert len(msgs) == 1, snd.log()
    assert recv.password not in snd.log()


def test_sender_dependent_authentication(make_instance, server_factory):
    srv = server_factory(auth="PLAIN", auth_replies=["235 2.7.0 Ok"] * 4)
    relay = f"[127.0.0.1]:{srv.port}"
    snd = make_sender(make_instance, relay, "relay-user:relay-pw",
                      more="demo@example.test  demo-user:demo-pw\n"
                           "@other.test  other-user:other-pw\n",
                      smtp_sasl_security_options="noanonymous",
                      smtp_sender_dependent_authentication="yes")
    send(snd, ["bob@remote.test"], subject="one")
    assert wait_for(lambda: len(srv.messages) == 1, T), snd.log()
    send(snd, ["bob@remote.test"], subject="two", sender="x@other.test")
    assert wait_for(lambda: len(srv.messages) == 2, T), snd.log()
    with srv.lock:
        logins = [base64.b64decode(c.split()[2]).split(b"\0")[1]
                  for c in srv.commands if c.startswith("AUTH PLAIN")]
    assert logins == [b"demo-user", b"other-user"], logins
    # a session logged in for one sender is not reused for another
    assert srv.connections == 2
