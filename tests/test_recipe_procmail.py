"""Differential tests of `tempest procmail` against recordings of the real
procmail (Debian 3.22), through the shared harness pmharness.py.

The public cases come from ../shared/testdata/procmail when present (else
the copy in src/recipe/testdata/procmail); our own cases (r*) live in the
copy.  As root the agent runs as an unprivileged user (procmail behaves
differently as root): MDA_RUN_AS=pmtest, created here with useradd if
missing.  The system mailbox ({orgmail}) lives in a spool directory that
user can write.
"""
import os
import pwd
import shutil
import subprocess
import tempfile

import pytest

from conftest import TEMPEST, ROOT

OWN = os.path.join(ROOT, "src", "recipe", "testdata", "procmail")
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared", "testdata", "procmail"))
RUN_AS = "pmtest"


def ensure_user():
    try:
        pwd.getpwnam(RUN_AS)
    except KeyError:
        subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-s", "/bin/sh", RUN_AS],
                       check=True)
    return pwd.getpwnam(RUN_AS)


@pytest.fixture(scope="module")
def env():
    tmp = tempfile.mkdtemp(prefix="pmdiff.")
    os.chmod(tmp, 0o755)
    binpath = os.path.join(tmp, "tempest")
    shutil.copy(TEMPEST, binpath)          # reachable by the test user
    os.chmod(binpath, 0o755)
    spool = os.path.join(tmp, "spool")
    os.mkdir(spool)
    e = dict(os.environ)
    e["OTHER_MDA"] = binpath + " procmail ORGMAIL={orgmail} DEFAULT={orgmail} {rc}"
    e["MDA_ORGMAIL"] = os.path.join(spool, "pmtest")
    e["MDA_TIMEOUT"] = "30"
    if os.geteuid() == 0:
        pw = ensure_user()
        os.chown(spool, pw.pw_uid, pw.pw_gid)
        e["MDA_RUN_AS"] = RUN_AS
    yield e
    shutil.rmtree(tmp, ignore_errors=True)


def harness(env, base, *args):
    p = subprocess.run(["/usr/bin/python3", os.path.join(base, "pmharness.py"), "compare"]
                       + list(args), env=env, capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout + p.stderr


def test_public_cases(env):
    base = SHARED if os.path.isfile(os.path.join(SHARED, "pmharness.py")) else OWN
    rc, out = harness(env, base, "--public", "-v")
    assert rc == 0, out
    assert " 0 failed" in out and "10 passed" in out or "passed, 0 failed" in out, out


def own_cases():
    d = os.path.join(OWN, "cases", "public")
    return sorted(n for n in os.listdir(d) if n.startswith("r")) if os.path.isdir(d) else []


def test_own_cases(env):
    cases = own_cases()
    if not cases:
        pytest.skip("no recorded cases of our own yet")
    args = ["--public"]
    for c in cases:
        args += ["--case", c]
    rc, out = harness(env, OWN, *args, "-v")
    assert rc == 0, out
    assert "%d passed, 0 failed" % len(cases) in out, out
