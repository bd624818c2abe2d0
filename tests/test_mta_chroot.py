"""master.cf chroot column: qmgr alone runs chrooted to the queue
directory (as Postfix runs it) and mail still flows end to end.

tests/test_mta_tables.py chroots every service Debian's Postfix chroots
(smtpd, pickup, qmgr, smtp) and covers table changes and unreadable
tables (doc/tables.md).  The delivery agents write outside the queue by
design (Postfix's local/virtual are not chrooted either)."""
import os
import re
import smtplib
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
