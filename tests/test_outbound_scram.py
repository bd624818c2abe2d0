"""SCRAM-SHA-256 in the outbound client (smtp_sasl_*, doc/outbound.md):
preferred over PLAIN/LOGIN when the server offers it, allowed without
TLS under the default security options (no password on the wire), and
the server must prove it knows the password (RFC 5802 server
signature): a server that does not is never given the mail, whatever
it answers.  Against a second Tempest (the real SCRAM server) and the
recording Python server of outbound_util playing an impostor."""
import os

from conftest import wait_for
from outbound_util import server_factory  # noqa: F401 (a fixture)
from test_outbound_auth import make_sender, send

T = 40      # generous: the ASan build on a loaded 2-core machine
USER = "scram@example.test"
PASSWORD = "scram, pencil=1"


def make_scram_receiver(make_instance, mechanisms="PLAIN LOGIN SCRAM-SHA-256"):
    """A Tempest whose port 25 offers AUTH without TLS and has one user
    with a {SCRAM-SHA-256} secret (tempest passwd -s SCRAM-SHA-256)."""
    r = make_instance("receiver", extra={
        "virtual_mailbox_domains": "example.test, remote.test",
        "smtpd_sasl_auth_enable": "yes", "smtpd_tls_auth_only": "no",
        "smtpd_tls_security_level": "none", "auth_failure_delay": "0",
        "smtpd_sasl_mechanisms": mechanisms,
        "smtpd_sasl_authenticated_header": "yes"})
    with open(os.path.join(r.etc, "virtual"), "a") as f:
        f.write("bob@remote.test  demo@example.test\n")
    r.start()
    p = r.cmd("passwd", "-s", "SCRAM-SHA-256", USER, input=PASSWORD + "\n")
    assert p.returncode == 0, p.stderr
    return r


def test_scram_without_tls_to_tempest(make_instance):
    recv = make_scram_receiver(make_instance)
    relay = f"[127.0.0.1]:{recv.smtp_port}"
    snd = make_sender(make_instance, relay, f"{USER}:{PASSWORD}")
    send(snd, ["bob@remote.test"], subject="scram")
    msgs = recv.wait_messages(1, timeout=T)
    assert len(msgs) == 1, snd.log() + recv.log()
    with open(msgs[0], "rb") as f:
        data = f.read()
    assert b"Subject: scram" in data
    assert f"(Authenticated sender: {USER})".encode() in data, data
    assert wait_for(lambda: "status=sent" in snd.log(), T), snd.log()
    log = snd.log()
    assert ("SASL authentication to 127.0.0.1[127.0.0.1] succeeded "
            "(mechanism SCRAM-SHA-256)") in log, log
    assert "TLS connection established" not in log
    assert f"SCRAM-SHA-256 authentication succeeded for user=<{USER}>" \
        in recv.log(), recv.log()
    assert PASSWORD not in log and PASSWORD not in recv.log()


def test_scram_wrong_password_defers(make_instance):
    recv = make_scram_receiver(make_instance)
    relay = f"[127.0.0.1]:{recv.smtp_port}"
    snd = make_sender(make_instance, relay, f"{USER}:not-the-password")
    send(snd, ["bob@remote.test"], subject="wrong")
    assert wait_for(lambda: "status=deferred" in snd.log(), T), snd.log()
    line = [l for l in snd.log().splitlines() if "status=deferred" in l][0]
    assert "SASL authentication failed" in line and "535" in line, line
    assert "status=bounced" not in snd.log()
    assert recv.messages() == []


def test_plain_only_server_still_refused_without_tls(make_instance):
    """smtp_sasl_mechanism_filter = plain filters SCRAM out; without TLS
    the default security options then refuse PLAIN: deferred."""
    recv = make_scram_receiver(make_instance)
    relay = f"[127.0.0.1]:{recv.smtp_port}"
    snd = make_sender(make_instance, relay, f"{USER}:{PASSWORD}",
                      smtp_sasl_mechanism_filter="plain")
    send(snd, ["bob@remote.test"], subject="filtered")
    assert wait_for(lambda: "status=deferred" in snd.log(), T), snd.log()
    assert "no mechanism available" in snd.log()
    assert recv.messages() == []


def test_impostor_wrong_signature_gets_no_mail(make_instance, server_factory):
    srv = server_factory(auth="SCRAM-SHA-256 PLAIN",
                         auth_replies=["235 2.7.0 Authentication successful"])
    snd = make_sender(make_instance, f"[127.0.0.1]:{srv.port}",
                      "u@example.test:s3cret-pw")
    send(snd, ["bob@remote.test"], subject="impostor")
    assert wait_for(lambda: "status=deferred" in snd.log(), T), snd.log()
    log = snd.log()
    line = [l for l in log.splitlines() if "status=deferred" in l][0]
    assert "SCRAM signature is wrong" in line, line
    with srv.lock:
        cmds = list(srv.commands)
    auth = [c for c in cmds if c.startswith("AUTH")]
    assert auth and auth[0].startswith("AUTH SCRAM-SHA-256 "), cmds
    assert "*" in cmds, cmds                 # the client cancelled
    assert not any(c.upper().startswith("MAIL") for c in cmds), cmds
    assert srv.messages == []
    assert "s3cret-pw" not in log


def test_impostor_success_without_proof_gets_no_mail(make_instance,
                                                     server_factory):
    srv = server_factory(auth="SCRAM-SHA-256",
                         auth_replies=["235 2.7.0 Authentication successful"],
                         scram_final=None)
    snd = make_sender(make_instance, f"[127.0.0.1]:{srv.port}",
                      "u@example.test:s3cret-pw")
    send(snd, ["bob@remote.test"], subject="no proof")
    assert wait_for(lambda: "status=deferred" in snd.log(), T), snd.log()
    line = [l for l in snd.log().splitlines() if "status=deferred" in l][0]
    assert "without proving it knows the password" in line, line
    with srv.lock:
        cmds = list(srv.commands)
    assert not any(c.upper().startswith("MAIL") for c in cmds), cmds
    assert srv.messages == []
