"""tempest start|status|stop as a background daemon, timeouts, and
sendmail -bs."""
import os
import smtplib
import subprocess
import time

from conftest import wait_for, wait_port
from smtputil import Raw

DEMO = "demo@example.test"


def test_start_status_stop(make_instance):
    inst = make_instance(extra={"maillog_file": "/dev/null"})
    p = inst.cmd("status")
    assert p.returncode == 1 and "not running" in p.stderr
    p = inst.cmd("start")
    assert p.returncode == 0, p.stderr
    wait_port(inst.smtp_port)
    p = inst.cmd("status")
    assert p.returncode == 0 and "is running: PID:" in p.stderr
    p = inst.cmd("start")
    assert p.returncode == 1 and "already running" in p.stderr
    with smtplib.SMTP("127.0.0.1", inst.smtp_port) as s:
        s.sendmail("a@remote.test", [DEMO], b"Subject: daemon\r\n\r\nok\r\n")
    assert inst.wait_messages(1)
    assert inst.cmd("flush").returncode == 0
    p = inst.cmd("stop")
    assert p.returncode == 0, p.stderr
    assert wait_for(lambda: not inst.pids("smtpd") and not inst.pids("qmgr"), 10)
    assert inst.cmd("status").returncode == 1


def test_command_timeout(make_instance):
    inst = make_instance(extra={"smtpd_timeout": "2s"}).start()
    r = Raw(inst.smtp_port)
    r.reply()
    r.expect("EHLO slow", 250)
    t0 = time.time()
    code, lines = r.reply(timeout=10)
    assert code == 421 and "timeout exceeded" in lines[0]
    assert 1.5 < time.time() - t0 < 8
    assert r.closed()
    assert "timeout after EHLO" in inst.log()


def test_sendmail_bs(instance):
    p = instance.cmd("sendmail", "-bs", input="EHLO bs\r\nMAIL FROM:<bs@remote.test>\r\n"
                     f"RCPT TO:<{DEMO}>\r\nDATA\r\nSubject: -bs\r\n\r\nvia -bs\r\n.\r\nQUIT\r\n")
    assert p.returncode == 0, p.stderr
    assert "250 2.0.0 Ok: queued as" in p.stdout
    assert p.stdout.rstrip().endswith("221 2.0.0 Bye")
    msgs = instance.wait_messages(1)
    with open(msgs[0], "rb") as f:
        assert b"via -bs" in f.read()
