"""master.cf chroot column: qmgr alone runs chrooted to the queue
directory (as Postfix runs it) and mail still flows end to end.

tests/test_mta_tables.py chroots every service Debian's Postfix chroots
(smtpd, pickup, qmgr, smtp) and covers table changes and unreadable
tables (doc/tables.md).  The delivery agents write outside the queue by
design (Postfix's local/virtual are not chrooted either): y in their
chroot column, or in that of another daemon that needs files outside
the queue (auth, filter, imapd, pop3d), is refused by name."""
import os
import re
import signal
import smtplib
import socket
import subprocess

import pytest

from chroot_util import chroot_services, process_roots
from conftest import TEMPEST, wait_for


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot(2) needs root")
def test_chrooted_qmgr_delivers(make_instance):
    inst = make_instance()
    inst.edit_master_cf(lambda t: chroot_services(t, ("qmgr",)))
    with open(os.path.join(inst.etc, "master.cf")) as f:
        assert re.search(r"^qmgr\s+fifo\s+n\s+-\s+y\s", f.read(), re.M)
    inst.start()
    qdir = os.path.realpath(os.path.join(inst.dir, "queue"))

    # the scheduler really is chrooted: its root is the queue directory
    assert wait_for(lambda: process_roots(inst, "qmgr") == {qdir}, 20), \
        process_roots(inst, "qmgr")

    # SMTP -> incoming/ -> trigger into the chroot -> active/ -> virtual
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=20) as s:
        for i in range(3):
            s.sendmail("a@remote.test", ["demo@example.test"],
                       b"Subject: chrooted %d\r\n\r\nscheduled by a chrooted "
                       b"qmgr\r\n" % i)
    msgs = inst.wait_messages(3, timeout=30)
    assert len(msgs) == 3
    subjects = set()
    for m in msgs:
        with open(m, "rb") as f:
            subjects.add(re.search(rb"Subject: (.*)", f.read()).group(1).strip())
    assert subjects == {b"chrooted 0", b"chrooted 1", b"chrooted 2"}

    # sendmail -> maildrop/ -> pickup -> chrooted qmgr
    p = subprocess.run([TEMPEST, "-c", inst.etc, "sendmail", "-f",
                        "cron@example.test", "demo@example.test"],
                       input=b"Subject: picked up\n\nfrom the maildrop\n",
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert len(inst.wait_messages(4, timeout=30)) == 4
    assert wait_for(inst.queue_empty, 20)
    log = inst.log()
    assert "fatal" not in log and "panic" not in log
    assert "status=deferred" not in log


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot(2) needs root")
def test_chrooted_anvil_counts(make_instance):
    """anvil, chrooted as Debian's master.cf has it, still counts: the
    client's fourth connection of the hour is refused."""
    inst = make_instance("anvil", extra={
        "smtpd_client_connection_count_limit": "0",
        "smtpd_client_connection_rate_limit": "3",
        "anvil_rate_time_unit": "1h",
        # 127.0.0.1 is outside mynetworks: the limit applies
        "mynetworks": "192.0.2.0/24"})
    inst.edit_master_cf(lambda t: chroot_services(t, ("anvil",)))
    inst.start()
    qdir = os.path.realpath(os.path.join(inst.dir, "queue"))

    # start() probes the port: those connections count too
    def probe_done():
        log = inst.log()
        n = log.count(": connect from unknown[127.0.0.1]")
        return n >= 1 and n == log.count(": disconnect from unknown[127.0.0.1]")
    assert wait_for(probe_done, 30), inst.log()
    probes = inst.log().count(": connect from unknown[127.0.0.1]")
    assert 1 <= probes < 3, inst.log()
    greetings = []
    for _ in range(4):
        with socket.create_connection(("127.0.0.1", inst.smtp_port),
                                      timeout=30) as s:
            greetings.append(s.makefile("rb").readline().decode())
        # anvil runs from the first count on, in its chroot
        assert wait_for(lambda: process_roots(inst, "anvil") == {qdir}, 20), \
            process_roots(inst, "anvil")
    assert [g[:3] for g in greetings] == \
        ["220"] * (3 - probes) + ["421"] * (1 + probes), greetings
    assert "too many connections from 127.0.0.1" in greetings[-1]
    assert "anvil service" not in inst.log()


FILTER_SVC = "filter                unix  -       -       n       -       -       filter"


@pytest.mark.parametrize("command", ["local", "filter", "auth", "imapd"])
def test_chroot_refused_for_daemons_outside_the_queue(make_instance, command):
    """y in the chroot column of a daemon that reads or writes outside
    the queue directory: the start fails and says which line and why;
    at a reload the running services stay."""
    # (the test instance runs no content filter unless given one)
    extra = [FILTER_SVC] if command == "filter" else []
    inst = make_instance(command, extra_services=extra)
    inst.edit_master_cf(lambda t: chroot_services(t, (command,)))
    with open(os.path.join(inst.etc, "master.cf")) as f:
        assert re.search(r"^\S+\s+unix\s+\S+\s+\S+\s+y\s+\S+\s+\S+\s+%s$"
                         % command, f.read(), re.M)
    p = subprocess.run([TEMPEST, "-c", inst.etc, "start-fg"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    m = re.search(r"master\.cf:(\d+): service \S+: %s cannot run chrooted "
                  r"\(it [^)]*outside the queue directory\); set its chroot "
                  r"column to n" % command, p.stderr)
    assert m, p.stderr
    with open(os.path.join(inst.etc, "master.cf")) as f:
        line = f.read().splitlines()[int(m.group(1)) - 1]
    assert line.split()[4] == "y" and line.split()[7] == command, line


def test_chroot_refused_at_reload_keeps_services(make_instance):
    inst = make_instance().start()
    inst.edit_master_cf(lambda t: chroot_services(t, ("local",)))
    # tempest reload refuses it on the terminal, signalling nothing
    p = inst.cmd("reload")
    assert p.returncode == 1 and "local cannot run chrooted" in p.stderr
    assert "local cannot run chrooted" not in inst.log()
    # and master itself, sent SIGHUP some other way, keeps its services
    os.kill(inst.proc.pid, signal.SIGHUP)
    assert wait_for(lambda: "local cannot run chrooted" in inst.log(), 20), \
        inst.log()
    assert "services not changed" in inst.log()
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        s.sendmail("a@remote.test", ["demo@example.test"],
                   b"Subject: still here\r\n\r\nafter a refused reload\r\n")
    assert len(inst.wait_messages(1, timeout=30)) == 1
