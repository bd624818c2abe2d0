"""The local/virtual agents' batching window (local_delivery_batch_delay,
local_delivery_batch_limit; lib-queue/deliver_agent.c): every setting
delivers every message, and a bad delay stops the agent with the
parameter's name in the log."""
import smtplib

import pytest

from conftest import wait_for


def configure(inst, text):
    with open(inst.etc + "/main.cf", "a") as f:
        f.write(text)


def send(inst, n, tag):
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        for i in range(n):
            s.sendmail("alice@example.org", ["demo@example.test"],
                       "Subject: %s %d\r\nMessage-ID: <%s.%d@b>\r\n\r\nx\r\n"
                       % (tag, i, tag, i))


@pytest.mark.parametrize("delay,limit", [("0", "1"), ("50ms", "100"), ("300us", "4")])
def test_batch_settings_deliver_everything(make_instance, delay, limit):
    inst = make_instance()
    configure(inst, "local_delivery_batch_delay = %s\n"
                    "local_delivery_batch_limit = %s\n" % (delay, limit))
    inst.start()
    send(inst, 6, "batch")
    assert len(inst.wait_messages(6, timeout=30)) == 6, inst.log()[-3000:]
    assert wait_for(inst.queue_empty, 30)


def test_bad_batch_delay_is_named(make_instance):
    inst = make_instance()
    configure(inst, "local_delivery_batch_delay = 2 hours\n")
    inst.start()
    send(inst, 1, "bad")
    assert wait_for(lambda: "local_delivery_batch_delay: bad time value"
                    in inst.log(), 30), inst.log()[-3000:]
