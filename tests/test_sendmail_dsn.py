"""sendmail's envelope options, as Postfix's: -N (DSN NOTIFY of every
recipient), -R (RET), -V (ENVID), -B (body type) and -SMTPUTF8.  Before,
-N, -R, -V and -B were accepted and ignored.  Observed in the MAIL and
RCPT commands of the relayed copy (a server offering DSN and SMTPUTF8),
and by NOTIFY=NEVER leaving a failed delivery without a bounce."""
import time

from test_outbound_retry import make_sender, server_factory  # noqa: F401
from test_outbound_smtp import dsn_reports
from conftest import wait_for

MSG = b"From: demo@example.test\nTo: bob@remote.test\nSubject: opts\n\nHi.\n"


def mail_rcpt(srv):
    return ([c for c in srv.commands if c.upper().startswith("MAIL ")],
            [c for c in srv.commands if c.upper().startswith("RCPT ")])


def test_sendmail_envelope_options_reach_the_next_hop(make_instance, server_factory):
    srv = server_factory(dsn=True, smtputf8=True)
    snd = make_sender(make_instance, srv)
    p = snd.cmd("sendmail", "-f", "demo@example.test", "-N", "success,delay",
                "-R", "hdrs", "-V", "env+id=1", "-B", "8BITMIME", "-SMTPUTF8",
                "bob@remote.test", input=MSG.decode())
    assert p.returncode == 0, p.stderr
    assert wait_for(lambda: len(srv.messages) == 1, 20), snd.log()
    mail, rcpt = mail_rcpt(srv)
    assert len(mail) == 1 and len(rcpt) == 1, srv.commands
    params = mail[0].split()[2:]
    assert "RET=HDRS" in params, mail
    assert "ENVID=env+2Bid+3D1" in params, mail
    assert "BODY=8BITMIME" in params, mail
    assert "SMTPUTF8" in params, mail
    assert "NOTIFY=SUCCESS,DELAY" in rcpt[0].split(), rcpt


def test_sendmail_without_options_sends_no_dsn_parameters(make_instance, server_factory):
    srv = server_factory(dsn=True, smtputf8=True)
    snd = make_sender(make_instance, srv)
    p = snd.cmd("sendmail", "-f", "demo@example.test", "bob@remote.test",
                input=MSG.decode())
    assert p.returncode == 0, p.stderr
    assert wait_for(lambda: len(srv.messages) == 1, 20), snd.log()
    mail, rcpt = mail_rcpt(srv)
    for word in ("RET=", "ENVID=", "BODY=", "SMTPUTF8"):
        assert word not in mail[0], mail
    assert "NOTIFY=" not in rcpt[0], rcpt


def test_sendmail_notify_never_gets_no_bounce(make_instance, server_factory):
    srv = server_factory(rcpt_replies=["550 5.1.1 <bob@remote.test>: no such user",
                                       "550 5.1.1 <bob@remote.test>: no such user"])
    snd = make_sender(make_instance, srv)
    p = snd.cmd("sendmail", "-f", "demo@example.test", "-N", "never",
                "bob@remote.test", input=MSG.decode())
    assert p.returncode == 0, p.stderr
    # the same failure without -N: a bounce (and so the first was seen)
    p = snd.cmd("sendmail", "-f", "demo@example.test", "bob@remote.test",
                input=MSG.decode())
    assert p.returncode == 0, p.stderr
    reps = dsn_reports(snd, 1)
    assert len(reps) == 1, snd.log()
    assert wait_for(lambda: snd.log().count("status=bounced") == 2, 10), snd.log()
    time.sleep(0.5)
    assert len(snd.messages()) == 1, snd.log()


def test_sendmail_rejects_bad_option_values(make_instance):
    inst = make_instance("bad")
    for args, word in ((["-N", "sometimes"], "-N"), (["-N", "never,success"], "-N"),
                       (["-N", ""], "-N"), (["-R", "body"], "-R"),
                       (["-V", "x" * 101], "-V"), (["-V", "a b\x01"], "-V"),
                       (["-B", "BINARYMIME"], "-B")):
        p = inst.cmd("sendmail", *args, "demo@example.test", input="Subject: x\n\nx\n")
        assert p.returncode == 64, (args, p.returncode, p.stderr)
        assert f"bad {word} option value" in p.stderr, (args, p.stderr)
