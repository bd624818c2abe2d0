"""tempest newaliases: alias_database compiled to an SQLite table that
the hash: lookup type reads while it exists; warnings for a missing
postmaster alias and duplicates."""
import os
import sqlite3

import pytest

from conftest import wait_for
from outbound_util import SMTPServer
from test_alias_basic import make, send


@pytest.fixture
def server():
    s = SMTPServer()
    yield s
    s.stop()


def test_newaliases_compiles_and_is_used(make_instance, server):
    inst, out = make(make_instance, server,
                     "Team: demo,\n    bob@remote.test\n# comment\nteam: nobody\n")
    r = inst.cmd("newaliases")
    assert r.returncode == 0, r.stderr
    db = os.path.join(inst.etc, "aliases.db")
    assert os.path.exists(db)
    rows = dict(sqlite3.connect(db).execute("SELECT key, value FROM map"))
    assert rows["team"] == "demo, bob@remote.test"
    assert rows["postmaster"]
    assert "duplicate alias" in r.stderr
    assert "postmaster" not in r.stderr
    assert "3 aliases" in r.stdout
    # the compiled table is what counts now: the text may go away
    os.rename(os.path.join(inst.etc, "aliases"),
              os.path.join(inst.etc, "aliases.src"))
    inst.start()
    send(inst, ["team@localhost"], subject="via db")
    assert wait_for(lambda: len(server.messages) == 1, 15), inst.log()
    assert len(inst.wait_messages(1)) == 1


def test_newaliases_warns_without_postmaster(make_instance, server):
    inst, out = make(make_instance, server, "")
    with open(os.path.join(inst.etc, "aliases"), "w") as f:
        f.write("list: demo\nbad line without colon\n")
    r = inst.cmd("newaliases")
    assert r.returncode == 0
    assert 'no "postmaster" alias' in r.stderr
    assert "need \"name: value\"" in r.stderr
    assert "1 alias" in r.stdout


def test_newaliases_missing_source(make_instance, server):
    inst, out = make(make_instance, server, "")
    os.unlink(os.path.join(inst.etc, "aliases"))
    r = inst.cmd("newaliases")
    assert r.returncode != 0
    assert "No such file" in r.stderr
