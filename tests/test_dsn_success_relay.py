"""Success notices through the smtp client (RFC 3461 5.2.2, 6.2.1, as
Postfix): to a next hop that announces DSN, NOTIFY, ORCPT, RET and ENVID
go with the mail and the next hop reports (we send nothing); to one that
does not (here a second Tempest with smtpd_discard_ehlo_keywords = dsn),
the sender gets a "relayed" notice naming the remote MTA and its reply.
doc/dsn.md."""
import os
import smtplib

from outbound_util import server_factory  # noqa: F401 (a fixture)
from dsn_success_util import (by_final, notices, plain, send_dsn,
                              success_logged, wait_notices, wait_removed)


def make_pair(make_instance, **recv_extra):
    recv = make_instance("receiver", extra=dict(
        {"virtual_mailbox_domains": "example.test, remote.test"}, **recv_extra))
    with open(os.path.join(recv.etc, "virtual"), "a") as f:
        f.write("bob@remote.test  demo@example.test\n")
    recv.start()
    snd = make_instance("sender", extra={
        "smtp_tls_security_level": "none",
        "transport_maps": "texthash:$config_directory/transport"})
    with open(os.path.join(snd.etc, "transport"), "w") as f:
        f.write(f"remote.test smtp:[127.0.0.1]:{recv.smtp_port}\n")
    return snd.start(), recv


def ehlo_has_dsn(inst):
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        s.ehlo("client.test")
        return s.has_extn("dsn"), s.has_extn("pipelining")


def test_relayed_to_a_next_hop_without_dsn(make_instance):
    snd, recv = make_pair(make_instance, smtpd_discard_ehlo_keywords="dsn")
    assert ehlo_has_dsn(recv) == (False, True)
    # not announced, so not accepted either (as Postfix: 555)
    with smtplib.SMTP("127.0.0.1", recv.smtp_port, timeout=30) as c:
        c.ehlo("client.test")
        assert c.mail("demo@example.test", ["RET=HDRS"])[0] == 555
        assert c.mail("demo@example.test")[0] == 250
        code, text = c.rcpt("bob@remote.test", ["NOTIFY=SUCCESS"])
        assert (code, text) == (555, b"5.5.4 Unsupported option: NOTIFY")
        assert c.rcpt("bob@remote.test")[0] == 250
    qid = send_dsn(snd, [("bob@remote.test",
                          ["NOTIFY=SUCCESS", "ORCPT=rfc822;bob@remote.test"])],
                   envid="relay-1", subject="over the relay")
    assert len(recv.wait_messages(1)) == 1, snd.log() + recv.log()
    wait_removed(snd, qid)
    got = wait_notices(snd, 1)
    assert len(got) == 1, snd.log()
    m, fields, rcpts, third = got[0]
    assert m["From"].startswith("MAILER-DAEMON@")
    assert m["Return-Path"] == "<>"
    assert fields["Original-Envelope-Id"] == "relay-1"
    bob = by_final(rcpts)["bob@remote.test"]
    assert bob["Action"] == "relayed"
    assert bob["Status"] == "2.0.0"
    assert plain(bob["Original-Recipient"]) == "rfc822;bob@remote.test"
    assert plain(bob["Remote-MTA"]) == "dns; 127.0.0.1"
    diag = plain(bob["Diagnostic-Code"])
    assert diag.startswith("smtp; 250 2.0.0 Ok: queued as "), diag
    assert third.get_content_type() == "text/rfc822-headers"
    assert "Subject: over the relay" in third.get_payload()
    # the receiver got no NOTIFY: it sends no notice of its own
    assert notices(recv) == []


def test_next_hop_with_dsn_reports_itself(make_instance):
    snd, recv = make_pair(make_instance)
    assert ehlo_has_dsn(recv) == (True, True)
    qid = send_dsn(snd, [("bob@remote.test",
                          ["NOTIFY=SUCCESS",
                           "ORCPT=rfc822;Original.Bob@remote.test"])],
                   envid="passed-on", ret="FULL", subject="pass it on")
    wait_removed(snd, qid)
    # the receiver delivers (bob@remote.test is demo there) and, the
    # sender demo@example.test being local there too, its notice lands
    # in the receiver's demo Maildir
    got = wait_notices(recv, 1)
    assert len(got) == 1, recv.log()
    m, fields, rcpts, third = got[0]
    assert fields["Original-Envelope-Id"] == "passed-on"
    demo = by_final(rcpts)["demo@example.test"]
    assert demo["Action"] == "delivered"
    assert plain(demo["Original-Recipient"]) == \
        "rfc822;Original.Bob@remote.test"
    # RET=FULL went along
    assert third.get_content_type() == "message/rfc822"
    # and the sender itself sent nothing
    assert not success_logged(snd, qid), snd.log()
    assert notices(snd) == []


def test_each_pass_reports_what_it_finished(make_instance, server_factory):  # noqa: F811
    # a next hop without DSN that defers the first recipient once: the
    # accepted one is reported at once, the other after its retry
    srv = server_factory(rcpt_replies=["451 4.2.0 try later"])
    snd = make_instance("sender", extra={
        "smtp_tls_security_level": "none",
        "transport_maps": "texthash:$config_directory/transport",
        "minimal_backoff_time": "1s", "maximal_backoff_time": "2s",
        "queue_run_delay": "1s"})
    with open(os.path.join(snd.etc, "transport"), "w") as f:
        f.write(f"remote.test smtp:[127.0.0.1]:{srv.port}\n")
    snd.start()
    qid = send_dsn(snd, [("first@remote.test", ["NOTIFY=SUCCESS"]),
                         ("second@remote.test", ["NOTIFY=SUCCESS"])],
                   envid="two-passes")
    wait_removed(snd, qid, timeout=60)
    got = wait_notices(snd, 2)
    assert len(got) == 2, snd.log()
    finals = sorted(list(by_final(g[2])) for g in got)
    assert finals == [["first@remote.test"], ["second@remote.test"]], finals
    for _, fields, rcpts, _ in got:
        assert fields["Original-Envelope-Id"] == "two-passes"
        assert rcpts[0]["Action"] == "relayed"
    assert snd.log().count(f"{qid}: sender delivery status") == 2
