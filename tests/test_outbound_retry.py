"""Outbound failure handling against a scriptable SMTP server: a 4xx
reply gives one deferral and delivery after `tempest flush`, a 5xx reply
and an expired message come back as RFC 3464 reports, STARTTLS is used
when offered, and per-destination concurrency and connection reuse are
visible to the server."""
import os
import shutil
import smtplib
import tempfile
import time

import pytest

from conftest import wait_for
from outbound_util import make_cert, server_factory  # noqa: F401 (a fixture)
from test_outbound_smtp import dsn_reports, send


def make_sender(make_instance, server, **extra):
    conf = {"minimal_backoff_time": "1s", "maximal_backoff_time": "2s",
            "queue_run_delay": "300s", "smtp_tls_security_level": "none",
            "transport_maps": "texthash:$config_directory/transport"}
    conf.update({k: str(v) for k, v in extra.items()})
    inst = make_instance("sender", extra=conf)
    with open(os.path.join(inst.etc, "transport"), "w") as f:
        f.write(f"remote.test smtp:[127.0.0.1]:{server.port}\n")
    return inst.start()


def test_4xx_then_2xx_defers_once_then_delivers(make_instance, server_factory):
    srv = server_factory(rcpt_replies=["451 4.3.0 try again later"])
    snd = make_sender(make_instance, srv)
    send(snd, ["bob@remote.test"], subject="retry me")
    assert wait_for(lambda: "status=deferred" in snd.log(), 15), snd.log()
    assert srv.messages == []
    assert "451 4.3.0 try again later" in snd.log()
    time.sleep(1.1)     # minimal_backoff_time
    assert snd.cmd("flush").returncode == 0
    assert wait_for(lambda: len(srv.messages) == 1, 15), snd.log()
    assert srv.messages[0]["to"] == ["bob@remote.test"]
    log = snd.log()
    assert log.count("status=deferred") == 1
    assert wait_for(lambda: "removed" in snd.log(), 5)
    # nothing comes back to the sender
    time.sleep(0.5)
    assert snd.messages() == []


def test_5xx_bounces_with_dsn(make_instance, server_factory):
    srv = server_factory(rcpt_replies=["550 5.1.1 <bob@remote.test>: no such user"])
    snd = make_sender(make_instance, srv)
    send(snd, ["bob@remote.test"], subject="will bounce")
    reps = dsn_reports(snd, 1)
    assert reps, snd.log()
    fields = reps[0][1].get_payload()
    assert fields[1]["Action"] == "failed"
    assert fields[1]["Status"] == "5.1.1"
    assert "550" in fields[1]["Diagnostic-Code"]
    assert "bob@remote.test" in fields[1]["Final-Recipient"]


def test_expired_message_bounces(make_instance, server_factory):
    srv = server_factory(rcpt_replies=["451 4.3.0 later"] * 10)
    snd = make_sender(make_instance, srv, maximal_queue_lifetime="2s")
    send(snd, ["bob@remote.test"], subject="too late")
    assert wait_for(lambda: "status=deferred" in snd.log(), 15), snd.log()
    time.sleep(2.2)
    snd.cmd("flush")
    reps = dsn_reports(snd, 1)
    assert reps, snd.log()
    fields = reps[0][1].get_payload()
    assert fields[1]["Action"] == "failed"
    assert fields[1]["Status"].startswith("5.4.7") or \
        fields[1]["Status"].startswith("4.4.7")
    assert "expired" in fields[1]["Diagnostic-Code"]
    assert srv.messages == []


def test_delay_warning(make_instance, server_factory):
    srv = server_factory(rcpt_replies=["451 4.3.0 later"] * 10)
    snd = make_sender(make_instance, srv, delay_warning_time="1s")
    send(snd, ["bob@remote.test"], subject="slow")
    assert wait_for(lambda: "status=deferred" in snd.log(), 15), snd.log()
    time.sleep(1.2)
    snd.cmd("flush")
    reps = dsn_reports(snd, 1)
    assert reps, snd.log()
    fields = reps[0][1].get_payload()
    assert fields[1]["Action"] == "delayed"
    assert fields[1]["Status"].startswith("4.")
    # only one warning, even after more attempts
    time.sleep(1.2)
    snd.cmd("flush")
    time.sleep(1.0)
    assert len(dsn_reports(snd, 1)) == 1


def test_starttls_used_when_offered(make_instance, server_factory):
    d = tempfile.mkdtemp(prefix="tempest-tls-")
    try:
        cert = make_cert(d)
        srv = server_factory(tls=cert)
        snd = make_sender(make_instance, srv, smtp_tls_security_level="may")
        send(snd, ["bob@remote.test"], subject="secret")
        assert wait_for(lambda: len(srv.messages) == 1, 15), snd.log()
        assert srv.messages[0]["tls"] is True
        assert "TLS connection established" in snd.log()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_tls_required_but_not_offered_defers(make_instance, server_factory):
    srv = server_factory()
    snd = make_sender(make_instance, srv, smtp_tls_security_level="encrypt")
    send(snd, ["bob@remote.test"], subject="must be secret")
    assert wait_for(lambda: "status=deferred" in snd.log(), 15), snd.log()
    assert "TLS is required" in snd.log()
    assert srv.messages == []


def test_esmtp_parameters(make_instance, server_factory):
    srv = server_factory()
    snd = make_sender(make_instance, srv)
    send(snd, ["bob@remote.test"], subject="caf\u00e9", body="Gr\u00fc\u00dfe.\n")
    assert wait_for(lambda: len(srv.messages) == 1, 15), snd.log()
    mail = [c for c in srv.commands if c.upper().startswith("MAIL FROM")]
    assert "SIZE=" in mail[0] and "BODY=8BITMIME" in mail[0]
    ehlo = [c for c in srv.commands if c.upper().startswith("EHLO")]
    assert ehlo == ["EHLO mail.example.test"]


def test_concurrency_limit_and_connection_reuse(make_instance, server_factory):
    srv = server_factory(delay=0.3)
    snd = make_sender(make_instance, srv,
                      smtp_destination_concurrency_limit=2,
                      smtp_connection_cache_time_limit="5s")
    n = 8
    for i in range(n):
        send(snd, ["bob@remote.test"], subject=f"msg {i}")
    assert wait_for(lambda: len(srv.messages) == n, 30), snd.log()
    assert srv.peak <= 2
    # connections were reused: far fewer than one per message
    assert srv.connections <= 4, srv.connections


def send_utf8(inst, to):
    msg = f"From: demo@example.test\r\nTo: {to}\r\nSubject: utf8\r\n\r\nhi\r\n"
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=10) as s:
        s.sendmail("demo@example.test", [to], msg.encode("utf-8"),
                   mail_options=["SMTPUTF8"])


def test_smtputf8(make_instance, server_factory):
    srv = server_factory(smtputf8=True)
    snd = make_sender(make_instance, srv)
    send_utf8(snd, "b\u00f8b@remote.test")
    assert wait_for(lambda: len(srv.messages) == 1, 15), snd.log()
    mail = [c for c in srv.commands if c.upper().startswith("MAIL FROM")]
    assert mail[0].endswith(" SMTPUTF8")
    assert srv.messages[0]["to"] == ["b\u00f8b@remote.test"]


def test_smtputf8_not_offered_bounces(make_instance, server_factory):
    srv = server_factory()
    snd = make_sender(make_instance, srv)
    send_utf8(snd, "b\u00f8b@remote.test")
    reps = dsn_reports(snd, 1)
    assert reps, snd.log()
    assert reps[0][1].get_payload()[1]["Status"] == "5.6.7"
    assert srv.messages == []
