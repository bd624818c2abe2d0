"""A mailbox file in a world-writable spool that someone else created
ahead of time (owned by them, writable by all) does not get the
recipient's mail: the local delivery agent appends only to a mailbox the
recipient owns, as Postfix local(8) does."""
import os
import pwd
import smtplib

import pytest

from conftest import wait_for
from test_mta_local_users import base, sysuser  # noqa: F401 (fixtures)


@pytest.mark.skipif(os.getuid() != 0,
                    reason="needs root to create a system user")
def test_mbox_planted_by_another_user_is_refused(make_instance, sysuser, base):
    import pathlib
    spool = pathlib.Path(base) / "spool"
    spool.mkdir()
    os.chmod(spool, 0o1777)
    # "nobody" plants the victim's mailbox, readable and writable by all
    box = spool / sysuser.pw_name
    box.write_bytes(b"")
    nobody = pwd.getpwnam("nobody")
    os.chown(box, nobody.pw_uid, nobody.pw_gid)
    os.chmod(box, 0o666)
    inst = make_instance(extra={"mail_spool_directory": str(spool)}).start()
    with smtplib.SMTP("127.0.0.1", inst.smtp_port) as s:
        s.sendmail("a@remote.test", [f"{sysuser.pw_name}@localhost"],
                   b"Subject: private\r\n\r\nfor the recipient only\r\n")
    assert wait_for(lambda: "not owned by the recipient" in inst.log(), 20), \
        inst.log()
    assert box.read_bytes() == b""
