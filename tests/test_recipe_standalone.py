"""`tempest procmail` stand-alone details not covered by the differential
cases: /dev/null as a folder, -a arguments, HOME/LOGNAME from the
environment, the default $HOME/.procmailrc."""
import os
import stat
import subprocess

from conftest import TEMPEST

MSG = b"From a@example.org  Tue Nov 14 22:13:20 2023\nFrom: a@example.org\nSubject: x\n\nbody\n"


def run(home, args, msg=MSG):
    env = {"HOME": str(home), "LOGNAME": "someone", "PATH": "/usr/bin:/bin"}
    return subprocess.run([TEMPEST, "procmail"] + args, input=msg, env=env,
                          capture_output=True, timeout=30)


def test_dev_null_folder(tmp_path):
    before = os.stat("/dev/null")
    (tmp_path / "rc").write_text(":0\n/dev/null\n")
    p = run(tmp_path, ["DEFAULT=%s" % (tmp_path / "default"), str(tmp_path / "rc")])
    assert p.returncode == 0, p.stderr
    assert not (tmp_path / "default").exists()
    after = os.stat("/dev/null")
    assert stat.S_IMODE(before.st_mode) == stat.S_IMODE(after.st_mode)
    assert not os.path.exists("/dev/null.lock")


def test_arguments_and_environment(tmp_path):
    (tmp_path / ".procmailrc").write_text(
        "MAILDIR=$HOME\nA1=$1\n:0\n* A1 ?? ^yes$\n${LOGNAME}-$2\n")
    p = run(tmp_path, ["-a", "yes", "-a", "box", "DEFAULT=%s" % (tmp_path / "default")])
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "someone-box").read_bytes() == MSG + b"\n"
    # HOME and LOGNAME came from the environment (an intended difference)
    assert not (tmp_path / "default").exists()
