"""Who may make the local delivery agent read what: a user's ~/.forward
(and a user-owned :include: list) must not get files read with root's
rights through :include:.  Real instance, real local delivery, root only
(a system user's .forward is expanded with that user's rights)."""
import os

import pytest

from conftest import wait_for
from test_alias_basic import make_nobody, send
from outbound_util import SMTPServer


@pytest.fixture
def server():
    s = SMTPServer()
    yield s
    s.stop()


def test_forward_include_is_read_with_the_users_rights(make_instance, server):
    inst, out, _ = make_nobody(make_instance, server)
    # a file only root may read, named by nobody's .forward
    secret = os.path.join(inst.etc, "secret.txt")
    with open(secret, "w") as f:
        f.write("stolen@remote.test\n")
    os.chmod(secret, 0o600)
    os.makedirs(os.path.join(inst.etc, "forward"))
    with open(os.path.join(inst.etc, "forward", "nobody"), "w") as f:
        f.write(f":include:{secret}\n")
    inst.start()
    send(inst, ["nobody@localhost"], subject="include as root?")
    assert wait_for(lambda: ":include: " + secret + ": Permission denied"
                    in inst.log(), 20), inst.log()
    # nothing read from the root-only file went anywhere
    assert server.messages == []
    assert "stolen@remote.test" not in inst.log()


def _forward_to_root_only_file(make_instance, server, link):
    """nobody's .forward is a hard or symbolic link to a file only root may
    read: nothing from that file is used, the mail goes to the mailbox."""
    inst, out, spool = make_nobody(make_instance, server, spool=True)
    # root-owned, not writable by others: passes the owner/mode checks
    secret = os.path.join(inst.etc, "secret.txt")
    with open(secret, "w") as f:
        f.write("stolen@remote.test\n")
    os.chmod(secret, 0o600)
    fwd_dir = os.path.join(inst.etc, "forward")
    os.makedirs(fwd_dir)
    os.chmod(fwd_dir, 0o755)
    link(secret, os.path.join(fwd_dir, "nobody"))
    inst.start()
    send(inst, ["nobody@localhost"], subject="forward as root?")
    mbox = os.path.join(spool, "nobody")
    # had the .forward been read, the mail would have gone to stolen@
    # instead of the user's own mailbox
    assert wait_for(lambda: os.path.exists(mbox) and
                    b"Subject: forward as root?" in open(mbox, "rb").read(),
                    30), inst.log()
    assert wait_for(lambda: "cannot open as nobody" in inst.log(), 20), \
        inst.log()
    assert server.messages == []
    assert "stolen@remote.test" not in inst.log()


def test_forward_hard_link_to_root_only_file(make_instance, server):
    _forward_to_root_only_file(make_instance, server, os.link)


def test_forward_symlink_to_root_only_file(make_instance, server):
    _forward_to_root_only_file(make_instance, server, os.symlink)
