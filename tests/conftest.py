"""Shared fixtures of the end-to-end tests.

`instance` starts a real Tempest (master and its services) from a fresh
instance directory on free loopback ports, and stops it afterwards.  Tests
never touch ./run or port 2525.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import instance as instance_mod  # noqa: E402

TEMPEST = os.environ.get("TEMPEST_BIN", os.path.join(ROOT, "build", "tempest"))


_given = set()


def free_port():
    """A free port below the kernel's ephemeral range, so that outgoing
    connections (which take ephemeral ports) never collide with a listener
    a test is about to start, even with other test runs on the machine."""
    import random
    lo, hi = 20000, 32000
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            eph = int(f.read().split()[0])
        hi = min(hi, eph)
    except (OSError, ValueError):
        pass
    for _ in range(1000):
        p = random.randrange(lo, hi)
        if p in _given:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            s.close()
        _given.add(p)
        return p
    raise RuntimeError("no free port")


def wait_port(port, timeout=10.0, proc=None):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("tempest exited with %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("port %d not listening" % port)


def stand_in_library(tmp_path, soname):
    """The directory tmp_path/lib holding an empty shared library named
    soname, to be found first through LD_LIBRARY_PATH in place of a
    library tempest loads with dlopen() (it lacks every function);
    skips the test without a C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the stand-in library")
    lib = tmp_path / "lib"
    lib.mkdir(exist_ok=True)
    src = tmp_path / "stand_in.c"
    src.write_text("int tempest_stand_in;\n")
    subprocess.run([cc, "-shared", "-fPIC", "-Wl,-soname," + soname, "-o",
                    str(lib / soname), str(src)], check=True)
    return lib


def wait_for(pred, timeout=10.0, interval=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return pred()


class Instance:
    def __init__(self, base, extra=None, extra_services=(), ports=None):
        self.dir = base
        self.ports = {k: free_port() for k in instance_mod.DEFAULT_PORTS}
        self.ports.update(ports or {})
        self.smtp_port = self.ports["smtp"]
        instance_mod.create(base, self.ports, extra or {},
                            [s.format(**self.ports) for s in extra_services],
                            force=True, quiet=True)
        self.etc = os.path.join(base, "etc")
        self.password = open(os.path.join(base, "demo-password")).read().strip()
        self.logpath = os.path.join(base, "tempest.log")
        self.proc = None

    def cmd(self, *args, **kw):
        """Run a tempest command against this instance."""
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 60)
        return subprocess.run([TEMPEST, "-c", self.etc] + list(args), **kw)

    def start(self, wait=True):
        self.logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen([TEMPEST, "-c", self.etc, "start-fg"],
                                     stdout=self.logf, stderr=self.logf,
                                     start_new_session=True)
        if wait:
            wait_port(self.smtp_port, proc=self.proc)
        return self

    def start_traced(self, trace, calls, strsize=40):
        """Start the whole instance under strace -f from its start, so
        every agent it starts is followed: the given system calls into
        the file trace.  Skips the test when strace is missing or the
        instance does not start under it."""
        import shutil
        if shutil.which("strace") is None:
            pytest.skip("strace is not installed")
        self.logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            ["strace", "-f", "-qq", "-y", "-s", str(strsize), "-e",
             "trace=" + ",".join(calls), "-o", str(trace),
             TEMPEST, "-c", self.etc, "start-fg"],
            stdout=self.logf, stderr=self.logf, start_new_session=True)
        try:
            wait_port(self.smtp_port, 60, proc=self.proc)
        except Exception:
            pytest.skip("tempest does not start under strace here: " +
                        self.log()[-500:])
        return self

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        # anything left in the process group is a bug; clean it up anyway
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc = None
        self.logf.close()

    def edit_master_cf(self, fn):
        """Rewrite master.cf through fn(text) -> text (before start)."""
        p = os.path.join(self.etc, "master.cf")
        with open(p) as f:
            text = f.read()
        with open(p, "w") as f:
            f.write(fn(text))

    def pids(self, role):
        """PIDs of the running service processes of one role."""
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
                with open(f"/proc/{d}/environ", "rb") as f:
                    env = f.read()
            except OSError:
                continue
            if b"daemon" in argv and role.encode() in argv and \
                    ("TEMPEST_CONFIG_DIR=" + self.etc).encode() in env:
                out.append(int(d))
        return out

    def maps(self, role):
        """The memory maps (/proc/PID/maps) of the running service
        processes of one role, joined: which libraries they loaded."""
        out = ""
        for pid in self.pids(role):
            try:
                with open(f"/proc/{pid}/maps") as f:
                    out += f.read()
            except OSError:
                pass        # (ended meanwhile)
        return out

    def queue_messages(self, queue):
        """Names of the messages in one queue directory.  In incoming/ only
        finished files (mode 0700) count: a 0600 file there is a message
        being written or a file an smtpd holds reserved for its next one
        (doc/queue-format.md)."""
        d = os.path.join(self.dir, "queue", queue)
        out = []
        for name in os.listdir(d):
            if queue == "incoming":
                try:
                    if os.lstat(os.path.join(d, name)).st_mode & 0o777 != 0o700:
                        continue
                except FileNotFoundError:
                    continue
            out.append(name)
        return out

    def queue_empty(self):
        return all(not self.queue_messages(d)
                   for d in ("incoming", "active", "deferred", "maildrop"))

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def maildir(self, user="demo", domain="example.test"):
        return os.path.join(self.dir, "mail", domain, user)

    def messages(self, user="demo", domain="example.test", folder=""):
        """Paths of the messages in new/ and cur/ of a Maildir folder."""
        base = self.maildir(user, domain)
        if folder:
            base = os.path.join(base, "." + folder)
        out = []
        for sub in ("new", "cur"):
            p = os.path.join(base, sub)
            if os.path.isdir(p):
                out += [os.path.join(p, f) for f in sorted(os.listdir(p))]
        return out

    def wait_messages(self, n, timeout=30.0, **kw):
        return wait_for(lambda: len(self.messages(**kw)) >= n and
                        self.messages(**kw), timeout) or self.messages(**kw)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell a
    passed test from a failed one at teardown."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def make_instance(request):
    """Instances in a fresh directory under the system's temporary
    directory, stopped after the test; the directory (logs, queue,
    Maildirs) is removed when the test passed and kept for a look when it
    failed (or always with TEMPEST_KEEP_TEST_DIRS=1)."""
    made = []
    tmp = tempfile.mkdtemp(prefix="tempest-test-")
    os.chmod(tmp, 0o755)  # services run as the mail owner, not root

    def factory(name="i", **kw):
        inst = Instance(os.path.join(tmp, name), **kw)
        made.append(inst)
        return inst

    yield factory
    for inst in made:
        inst.stop()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.passed and \
            not os.environ.get("TEMPEST_KEEP_TEST_DIRS"):
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def instance(make_instance):
    """A started default instance."""
    return make_instance().start()
