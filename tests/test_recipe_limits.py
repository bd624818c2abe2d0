"""Resource limits of the recipe engine: a catastrophic regex, a fork bomb
of | actions (and of cloned blocks), 1,000 nested blocks, runaway
INCLUDERC and broken rcfiles each end rcfile processing with an error
naming file:line in the log, and the message is delivered to DEFAULT."""
import os
import subprocess
import time

import pytest

from conftest import TEMPEST

MSG = ("From alice@example.org  Tue Nov 14 22:13:20 2023\nFrom: alice@example.org\n"
       "To: bob@example.net\nSubject: " + "a" * 60 + "\n\nbody\n")


def run(tmp_path, rc_text, msg=MSG, timeout=60):
    rc = tmp_path / "test.rc"
    rc.write_text(rc_text)
    default = tmp_path / "default.mbox"
    env = {"HOME": str(tmp_path), "LOGNAME": "bob", "PATH": "/usr/bin:/bin"}
    t0 = time.time()
    p = subprocess.run([TEMPEST, "procmail", "DEFAULT=%s" % default,
                        "ORGMAIL=%s" % default, "LOGFILE=%s" % (tmp_path / "log"), str(rc)],
                       input=msg.encode(), env=env, capture_output=True, timeout=timeout)
    log = (tmp_path / "log").read_text() if (tmp_path / "log").exists() else ""
    body = default.read_text() if default.exists() else ""
    return p.returncode, log, body, time.time() - t0


def test_catastrophic_regex(tmp_path):
    rc, log, box, secs = run(tmp_path, ":0\n* ^Subject: (a|aa)+(a|aa)+(a|aa)+[^a]\nnever\n")
    assert rc == 0
    assert "test.rc:2:" in log and "match limit" in log, log
    assert box.count("Subject: aaaa") == 1
    assert not (tmp_path / "never").exists()
    assert secs < 20


def test_fork_bomb_of_pipes(tmp_path):
    rc_text = "".join(":0 c\n| true\n" for _ in range(500)) + ":0\nnever\n"
    rc, log, box, secs = run(tmp_path, rc_text)
    assert rc == 0
    assert "too many programs" in log, log
    # the 101st program is the one refused: recipe 101 is at line 201
    assert "test.rc:202:" in log, log
    assert box.count("Subject: aaaa") == 1
    assert not (tmp_path / "never").exists()


def test_clone_bomb_is_bounded(tmp_path):
    rc_text = "".join(":0 c\n{\n}\n" for _ in range(64)) + ":0\n| cat >> $HOME/copies\n"
    rc, log, box, secs = run(tmp_path, rc_text)
    assert rc == 0
    assert "too many programs" in log
    time.sleep(0.5)
    copies = (tmp_path / "copies").read_text().count("Subject: aaaa") \
        if (tmp_path / "copies").exists() else 0
    # every process ends in exactly one delivery; at most 100 forks in all
    assert copies + box.count("Subject: aaaa") <= 102
    assert box.count("Subject: aaaa") >= 1


def test_thousand_nested_blocks(tmp_path):
    rc_text = ":0\n{\n" * 1000 + ":0\nnever\n" + "}\n" * 1000
    rc, log, box, secs = run(tmp_path, rc_text)
    assert rc == 0
    assert "test.rc:" in log and "nesting too deep" in log, log
    assert box.count("Subject: aaaa") == 1


def test_includerc_recursion(tmp_path):
    rc, log, box, secs = run(tmp_path, "INCLUDERC=$HOME/test.rc\n:0\nnever\n")
    assert rc == 0
    assert "INCLUDERC nested too deep" in log and "test.rc:1:" in log, log
    assert box.count("Subject: aaaa") == 1


def test_unreadable_and_garbage_rcfiles(tmp_path):
    rc, log, box, _ = run(tmp_path, "\x00\x01}}}:0 x y z\n* ((((\n{ {\n")
    assert rc == 0
    assert box.count("Subject: aaaa") == 1
    (tmp_path / "default.mbox").unlink()
    env = {"HOME": str(tmp_path), "LOGNAME": "bob", "PATH": "/usr/bin:/bin"}
    p = subprocess.run([TEMPEST, "procmail", "DEFAULT=%s" % (tmp_path / "default.mbox"),
                        str(tmp_path / "missing.rc")], input=MSG.encode(), env=env,
                       capture_output=True, timeout=30)
    assert p.returncode == 0
    assert b"Couldn't read" in p.stderr
    assert (tmp_path / "default.mbox").read_text().count("Subject: aaaa") == 1


def test_nothing_writable_is_an_error(tmp_path):
    env = {"HOME": str(tmp_path), "LOGNAME": "bob", "PATH": "/usr/bin:/bin"}
    p = subprocess.run([TEMPEST, "procmail", "DEFAULT=/nonexistent/a", "ORGMAIL=/nonexistent/b",
                        "/dev/null"], input=MSG.encode(), env=env, capture_output=True, timeout=30)
    assert p.returncode == 73
    p = subprocess.run([TEMPEST, "procmail", "-t", "DEFAULT=/nonexistent/a",
                        "ORGMAIL=/nonexistent/b", "/dev/null"], input=MSG.encode(), env=env,
                       capture_output=True, timeout=30)
    assert p.returncode == 75


def test_program_timeout(tmp_path):
    rc, log, box, secs = run(tmp_path, "TIMEOUT=2\n:0 w\n| sleep 30\n:0 w\n* ? sleep 30\nnever\n")
    assert rc == 0
    assert log.count("Timeout, terminating") == 2, log
    assert box.count("Subject: aaaa") == 1
    assert secs < 15
