"""Asynchronous DNS in the smtp delivery agent: one smtp process
(maxproc 1) keeps delivering to other domains while a DNS question about
one domain is still unanswered."""
import os
import re
import smtplib

from conftest import wait_for
from outbound_util import HoldingDNS, SMTPServer


def send(inst, to, subject):
    msg = (f"From: demo@example.test\r\nTo: {to}\r\nSubject: {subject}\r\n"
           f"\r\nHi.\r\n")
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=10) as s:
        s.sendmail("demo@example.test", [to], msg.encode())


def delivered(srv, rcpt):
    with srv.lock:
        return any(rcpt in m["to"] for m in srv.messages)


def test_slow_zone_does_not_delay_other_domain(make_instance):
    srv = SMTPServer()
    dns = HoldingDNS({"fast.test": "127.0.0.1", "slow.test": "127.0.0.1"},
                     hold={"slow.test"})
    try:
        snd = make_instance("sender", extra={
            "dns_resolver_address": dns.address,
            "smtp_tcp_port": str(srv.port),
            # the held question must stay pending for the whole test
            "dns_timeout": "120s", "dns_tries": "1", 
            "smtp_tls_security_level": "none",
            "minimal_backoff_time": "1s", "maximal_backoff_time": "2s",
            "queue_run_delay": "1s"})
        snd.edit_master_cf(lambda t: re.sub(
            r"^(smtp\s+unix\s+-\s+-\s+n\s+-\s+)-", r"\g<1>1", t,
            flags=re.M))
        assert re.search(r"^smtp\s+unix\s+-\s+-\s+n\s+-\s+1\s+smtp",
                         open(os.path.join(snd.etc, "master.cf")).read(),
                         re.M)
        snd.start()
        send(snd, "a@slow.test", "slow")
        # the smtp process is now waiting for the answer about slow.test
        assert wait_for(lambda: "slow.test" in dns.held_names(), 30), \
            snd.log()
        send(snd, "b@fast.test", "fast")
        assert wait_for(lambda: delivered(srv, "b@fast.test"), 30), snd.log()
        # still no answer about slow.test, and one smtp process did both
        assert "slow.test" in dns.held_names()
        assert not delivered(srv, "a@slow.test")
        assert len(snd.pids("smtp")) == 1
        dns.release()
        assert wait_for(lambda: delivered(srv, "a@slow.test"), 30), snd.log()
        assert "status=deferred" not in snd.log()
    finally:
        dns.stop()
        srv.stop()


def test_mx_host_with_aaaa_only(make_instance):
    """MX -> AAAA: the only address of the MX host is ::1."""
    from outbound_util import DNSServer, UNBOUND
    import pytest
    if not os.path.exists(UNBOUND):
        pytest.skip("unbound (scripts/packages/outbound.test) is not installed")
    try:
        srv = SMTPServer(host="::1")
    except OSError as e:
        pytest.skip(f"no IPv6 loopback here: {e}")
    dns = DNSServer(["six.test. IN MX 10 mx.six.test.",
                     "mx.six.test. IN AAAA ::1"])
    try:
        snd = make_instance("sender", extra={
            "dns_resolver_address": dns.address,
            "smtp_tcp_port": str(srv.port),
            "smtp_tls_security_level": "none"}).start()
        send(snd, "c@six.test", "over v6")
        assert wait_for(lambda: delivered(srv, "c@six.test"), 30), snd.log()
        assert wait_for(lambda: "mx.six.test[::1]" in snd.log(), 20), \
            snd.log()
    finally:
        dns.stop()
        srv.stop()

