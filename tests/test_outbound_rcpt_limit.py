"""452 4.5.3 "too many recipients" to RCPT (RFC 5321 4.5.3.1.10): the
outbound client sends the remaining recipients in a new transaction on
the same connection (as Postfix does) instead of deferring them to the
next queue run."""
import smtplib

import pytest

from conftest import wait_for
from outbound_util import server_factory  # noqa: F401 (a fixture)

T = 40


def make_sender(make_instance, srv):
    return make_instance("sender", extra={
        "minimal_backoff_time": "1s", "maximal_backoff_time": "2s",
        "queue_run_delay": "1s", "smtp_tls_security_level": "none",
        "relayhost": f"[127.0.0.1]:{srv.port}"}).start()


def send(inst, to):
    msg = f"From: demo@example.test\r\nTo: {', '.join(to)}\r\nSubject: many\r\n\r\nHi.\r\n"
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=20) as s:
        s.sendmail("demo@example.test", to, msg.encode())


RCPTS = [f"r{i}@remote.test" for i in range(5)]
LIMIT = "452 4.5.3 Error: too many recipients"


@pytest.mark.parametrize("pipelining", [True, False])
def test_452_rest_in_new_transaction_same_connection(make_instance,
                                                     server_factory,
                                                     pipelining):
    # a limit of 2 per transaction: 2 accepted, the rest refused with 452
    srv = server_factory(pipelining=pipelining,
                         rcpt_replies=["250 2.1.5 Ok"] * 2 + [LIMIT] * 3 +
                         ["250 2.1.5 Ok"] * 2 + [LIMIT])
    snd = make_sender(make_instance, srv)
    send(snd, RCPTS)
    assert wait_for(lambda: snd.log().count("status=sent") == 5, T), snd.log()
    with srv.lock:
        got = [m["to"] for m in srv.messages]
        conns = srv.connections
    assert sorted(sum(got, [])) == sorted(RCPTS)
    assert [len(t) for t in got] == [2, 2, 1], got
    assert conns == 1
    log = snd.log()
    assert "status=deferred" not in log
    assert "sending the rest in a new transaction" in log


def test_452_without_any_accepted_defers(make_instance, server_factory):
    srv = server_factory(rcpt_replies=[LIMIT] * 5)
    snd = make_sender(make_instance, srv)
    send(snd, RCPTS[:2])
    assert wait_for(lambda: snd.log().count("status=deferred") >= 2, T), \
        snd.log()
    assert srv.messages == []
    assert "452 4.5.3" in snd.log()
