"""The npm IMAP client imapflow against the running server: STARTTLS,
LIST with special-use, APPEND, FETCH (envelope, bodystructure, source),
download of a part, STORE, SEARCH, IDLE receiving EXISTS, MOVE, STATUS.
imapflow is installed with npm into tests/.node (gitignored) on first
use; the test is skipped with the reason when npm or the registry is not
reachable."""
import json
import os
import shutil
import subprocess

import pytest

from imap_helpers import start_instance

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, ".node")


def ensure_imapflow():
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed (Debian packages nodejs, npm)")
    if os.path.isdir(os.path.join(NODE_DIR, "node_modules", "imapflow")):
        return
    os.makedirs(NODE_DIR, exist_ok=True)
    p = subprocess.run(["npm", "install", "--no-audit", "--no-fund",
                        "--prefix", NODE_DIR, "imapflow@1"],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        pytest.skip("npm install imapflow failed (no registry?): " + p.stderr[-300:])


def test_imapflow(make_instance):
    ensure_imapflow()
    inst = start_instance(make_instance)
    env = dict(os.environ, NODE_PATH=os.path.join(NODE_DIR, "node_modules"),
               IMAP_PORT=str(inst.ports["imap"]), IMAP_USER="demo@example.test",
               IMAP_PASS=inst.password, MAILDIR=inst.maildir())
    p = subprocess.run(["node", os.path.join(HERE, "imapflow_client.js")],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.stdout.strip(), p.stderr[-2000:]
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert "error" not in res, res
    assert res["secure"] is True                      # upgraded with STARTTLS
    assert "IDLE" in res["capabilities"] and "MOVE" in res["capabilities"]
    folders = dict((f, s) for f, s in res["folders"])
    assert folders["Sent"] == "\\Sent" and folders["Trash"] == "\\Trash"
    assert res["exists"] == 1 and res["subject"] == "flow"
    assert "\\Seen" in res["flags"]
    assert res["parts"] == ["text/plain", "text/html"]
    assert res["part2"] == "<b>x</b>"
    assert res["searchFlagged"] == [1]
    assert res["idleExists"] == 2
    assert res["moved"] and res["trashMessages"] == 1
