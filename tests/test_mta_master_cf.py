"""master.cf written the Postfix way: service names from /etc/services and
the lines of Postfix daemons Tempest does not run as processes.  A
sysadmin who carries a Postfix master.cf over gets a working system and a
log line for each service that is not started, not a respawn loop."""
import re
import smtplib
import socket

from conftest import wait_for, wait_port

USER = "demo@example.test"

# service lines as Postfix's stock master.cf has them (Postfix daemons
# whose work Tempest does elsewhere, and transports it does not have;
# anvil is a Tempest daemon too, and runs from Postfix's line)
POSTFIX_LINES = """
cleanup   unix  n       -       y       -       0       cleanup
tlsmgr    unix  -       -       y       1000?   1       tlsmgr
rewrite   unix  -       -       y       -       -       trivial-rewrite
bounce    unix  -       -       y       -       0       bounce
proxymap  unix  -       -       n       -       -       proxymap
anvil     unix  -       -       y       -       1       anvil
maildrop  unix  -       n       n       -       -       pipe
  flags=DRhu user=vmail argv=/usr/bin/maildrop -d ${recipient}
lmtp      unix  -       -       y       -       -       lmtp
"""


def port_free(port):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def test_postfix_master_cf_lines(make_instance):
    inst = make_instance()
    # "submission" is port 587 in /etc/services; only when it is free here
    named = socket.getservbyname("submission", "tcp") == 587 and port_free(587)
    extra = POSTFIX_LINES
    if named:
        extra += "127.0.0.1:submission inet n - n - - smtpd\n"
    # Postfix's anvil line replaces the instance's own
    inst.edit_master_cf(
        lambda t: re.sub(r"^anvil\s.*\n", "", t, flags=re.M) + extra)
    inst.start()
    log = lambda: inst.log()
    assert wait_for(lambda: "trivial-rewrite is built into Tempest" in log(), 20), log()
    for svc in ("cleanup", "tlsmgr", "bounce", "proxymap"):
        assert f"service {svc}: Postfix's {svc} is built into Tempest; not started" \
            in log(), log()
    assert "service maildrop: pipe is not a Tempest daemon; not started" in log()
    assert "service lmtp: lmtp is not a Tempest daemon; not started" in log()
    # mail still flows, and nothing was started for the skipped lines
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        s.sendmail("someone@remote.test", [USER], b"Subject: cf\r\n\r\nbody\r\n")
    assert inst.wait_messages(1), log()
    for role in ("cleanup", "tlsmgr", "pipe", "lmtp", "trivial-rewrite"):
        assert inst.pids(role) == [], role
    assert "service anvil" not in log(), log()
    assert wait_for(lambda: inst.pids("anvil"), 20), log()
    assert "exit status" not in log() and "killed by signal" not in log(), log()
    if named:
        wait_port(587, proc=inst.proc)
        with smtplib.SMTP("127.0.0.1", 587, timeout=30) as s:
            code, banner = s.ehlo("client.test")
            assert code == 250
            s.sendmail("someone@remote.test", [USER], b"Subject: 587\r\n\r\nx\r\n")
        assert wait_for(lambda: len(inst.messages()) == 2, 30), log()


def test_failed_reload_keeps_listeners(make_instance):
    """A reload whose new master.cf cannot be put in place (a listener
    that cannot bind) leaves the running services as they were: master
    keeps its copies of the listening sockets, so an smtpd killed after
    the failed reload is started again on the same port."""
    import os
    import signal
    inst = make_instance()
    inst.start()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        inst.edit_master_cf(
            lambda t: t + f"127.0.0.1:{port} inet n - n - - smtpd\n")
        assert inst.cmd("reload").returncode == 0
        assert wait_for(lambda: "services not changed" in inst.log(), 30), \
            inst.log()[-2000:]
        for pid in inst.pids("smtpd"):
            os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: inst.pids("smtpd"), 30)
        wait_port(inst.smtp_port, proc=inst.proc)
        with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
            s.sendmail("someone@remote.test", [USER],
                       b"Subject: after a failed reload\r\n\r\nx\r\n")
        assert inst.wait_messages(1), inst.log()[-2000:]
    finally:
        busy.close()
