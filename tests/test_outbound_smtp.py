"""Outbound SMTP end to end: a sender Tempest finds the receiver through
a real DNS server (MX, implicit MX, MX fallback) or transport_maps /
relayhost, and the receiver Tempest puts the mail in its Maildir.
Failures come back to the original sender as RFC 3464 reports."""
import email
import os
import smtplib
import time

import pytest

from conftest import wait_for
from outbound_util import DNSServer, UNBOUND

pytestmark = pytest.mark.skipif(not os.path.exists(UNBOUND),
                                reason="unbound (scripts/packages/outbound.test) is not installed")



@pytest.fixture
def dns():
    d = DNSServer([
        "remote.test. IN MX 10 mx1.remote.test.",
        "remote.test. IN MX 20 mx2.remote.test.",
        "mx1.remote.test. IN A 127.0.0.2",
        "mx2.remote.test. IN A 127.0.0.1",
        "plain.test. IN A 127.0.0.1",
        "single.test. IN MX 10 mx2.remote.test.",
    ])
    yield d
    d.stop()


def make_receiver(make_instance, domains="remote.test, plain.test, single.test, routed.test"):
    r = make_instance("receiver", extra={
        "virtual_mailbox_domains": "example.test, " + domains})
    with open(os.path.join(r.etc, "virtual"), "a") as f:
        for d in domains.split(", "):
            f.write(f"bob@{d}  demo@example.test\n")
    return r.start()


def make_sender(make_instance, **extra):
    conf = {"minimal_backoff_time": "1s", "maximal_backoff_time": "2s",
            "queue_run_delay": "1s", "smtp_tls_security_level": "none"}
    conf.update({k: str(v) for k, v in extra.items()})
    return make_instance("sender", extra=conf).start()


def send(inst, to, subject="hello", sender="demo@example.test", body="Hi.\n"):
    msg = (f"From: {sender}\r\nTo: {', '.join(to)}\r\nSubject: {subject}\r\n"
           f"\r\n{body}")
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=10) as s:
        s.sendmail(sender, to, msg.encode("utf-8"))


def read(path):
    with open(path, "rb") as f:
        return email.message_from_bytes(f.read())


def dsn_reports(inst, n=1, timeout=20):
    """The delivery-status parts of the DSNs in demo's Maildir."""
    msgs = inst.wait_messages(n, timeout=timeout)
    out = []
    for p in msgs:
        m = read(p)
        if m.get_content_type() != "multipart/report":
            continue
        for part in m.walk():
            if part.get_content_type() == "message/delivery-status":
                out.append((m, part))
    return out


def test_mx_fallback_to_second_host(make_instance, dns):
    recv = make_receiver(make_instance)
    snd = make_sender(make_instance, dns_resolver_address=dns.address,
                      smtp_tcp_port=recv.smtp_port)
    send(snd, ["bob@remote.test"], subject="via mx")
    msgs = recv.wait_messages(1, timeout=20)
    assert len(msgs) == 1, snd.log()
    assert read(msgs[0])["Subject"] == "via mx"
    # the sender logs its result just after the receiver has the copy
    assert wait_for(lambda: "status=sent" in snd.log(), 10), snd.log()
    log = snd.log()
    # the first MX (127.0.0.2) refuses; the second one takes the mail
    assert "mx1.remote.test[127.0.0.2]" in log
    assert "status=sent" in log and "mx2.remote.test[127.0.0.1]" in log


def test_implicit_mx(make_instance, dns):
    recv = make_receiver(make_instance)
    snd = make_sender(make_instance, dns_resolver_address=dns.address,
                      smtp_tcp_port=recv.smtp_port)
    send(snd, ["bob@plain.test"], subject="implicit")
    msgs = recv.wait_messages(1, timeout=20)
    assert len(msgs) == 1, snd.log()
    # the sender logs its result just after the receiver has the copy
    assert wait_for(lambda: "plain.test[127.0.0.1]" in snd.log(), 20), \
        snd.log()


def test_transport_maps_without_dns(make_instance):
    recv = make_receiver(make_instance)
    snd = make_instance("sender", extra={
        "transport_maps": "texthash:$config_directory/transport",
        "smtp_tls_security_level": "none"})
    with open(os.path.join(snd.etc, "transport"), "w") as f:
        f.write(f"routed.test  smtp:[127.0.0.1]:{recv.smtp_port}\n"
                "refused.test error:5.7.1 we do not send there\n")
    snd.start()
    send(snd, ["bob@routed.test"], subject="routed")
    assert len(recv.wait_messages(1, timeout=20)) == 1, snd.log()
    # error: transport bounces at once
    send(snd, ["x@refused.test"], subject="refused")
    reps = dsn_reports(snd, 1)
    assert reps, snd.log()
    report = reps[0][1].get_payload()
    assert report[1]["Action"] == "failed"
    assert report[1]["Status"] == "5.7.1"
    assert "x@refused.test" in report[1]["Final-Recipient"]


def test_relayhost(make_instance):
    recv = make_receiver(make_instance)
    snd = make_sender(make_instance,
                      relayhost=f"[127.0.0.1]:{recv.smtp_port}")
    send(snd, ["bob@remote.test"], subject="relayed")
    msgs = recv.wait_messages(1, timeout=20)
    assert len(msgs) == 1, snd.log()


def test_nonexistent_domain_bounces(make_instance, dns):
    snd = make_sender(make_instance, dns_resolver_address=dns.address)
    send(snd, ["nobody@nonexistent.test"], subject="lost")
    reps = dsn_reports(snd, 1)
    assert reps, snd.log()
    msg, part = reps[0]
    fields = part.get_payload()
    assert fields[0]["Reporting-MTA"].startswith("dns;")
    rcpt = fields[1]
    assert rcpt["Action"] == "failed"
    assert rcpt["Status"].startswith("5.")
    assert "nobody@nonexistent.test" in rcpt["Final-Recipient"]
    assert "not found" in rcpt["Diagnostic-Code"]
    # the original comes back too
    orig = [p for p in msg.walk() if p.get_content_type() == "message/rfc822"]
    assert orig and orig[0].get_payload()[0]["Subject"] == "lost"


def test_no_resolver_defers(make_instance):
    snd = make_sender(make_instance)   # dns_resolver_address is empty
    send(snd, ["bob@remote.test"], subject="no dns")
    assert wait_for(lambda: "status=deferred" in snd.log(), 15), snd.log()
    assert "no DNS resolver configured" in snd.log()
    assert snd.messages() == []


def test_starttls_between_two_instances(make_instance, dns):
    recv = make_receiver(make_instance)
    snd = make_sender(make_instance, dns_resolver_address=dns.address,
                      smtp_tcp_port=recv.smtp_port,
                      smtp_tls_security_level="may")
    send(snd, ["bob@single.test"], subject="encrypted hop")
    msgs = recv.wait_messages(1, timeout=20)
    assert len(msgs) == 1, snd.log()
    m = read(msgs[0])
    assert "ESMTPS" in m.get_all("Received")[0]
    assert "TLS connection established to mx2.remote.test" in snd.log()
