#!/usr/bin/python3
"""Tempest imapd side by side with Debian's dovecot-imapd.

Measures, on private instances on loopback ports with the same Maildir
content:
  * memory (PSS of every server process) per idle IDLE session, with N
    plaintext sessions and N TLS (IMAPS) sessions;
  * SELECT + FETCH 1:* (FLAGS) on folders of 10,000 and 100,000 messages,
    cold (no index / UID list yet, page cache dropped when allowed) and
    warm (repeated at once).
Run as root (dovecot needs it): bench/imap/run.sh [sessions].  Not part of
make test.  Prints a Markdown table and writes it to bench/results/imap.md.
"""
import argparse
import os
import pwd
import resource
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import instance as instance_mod  # noqa: E402

MSG = ("From: Bench <bench@example.org>\nTo: demo@example.test\n"
       "Subject: benchmark message {i}\nDate: Tue, 1 Jul 2003 10:52:37 +0200\n"
       "Message-ID: <{i}@bench.example.org>\n\n" + "Some body text.\n" * 10)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(port)


def make_folder(path, n):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    for i in range(n):
        name = "%d.M%dP1.bench,S=%d:2,S" % (1000000000 + i, i, 0)
        with open(os.path.join(path, "cur", name), "w") as f:
            f.write(MSG.format(i=i))


def chown_tree(path, uid, gid):
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for f in files:
            os.chown(os.path.join(root, f), uid, gid)


def pss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def descendants(pid):
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True,
                         text=True).stdout.split("\n")
    kids = {}
    for line in out:
        if line.strip():
            p, pp = map(int, line.split())
            kids.setdefault(pp, []).append(p)
    res, todo = [], [pid]
    while todo:
        p = todo.pop()
        res.append(p)
        todo += kids.get(p, [])
    return res


class Conn:
    def __init__(self, port, tls):
        s = socket.create_connection(("127.0.0.1", port), 30)
        if tls:
            ctx = ssl._create_unverified_context()
            s = ctx.wrap_socket(s)
        self.s, self.f = s, s.makefile("rb", buffering=1 << 16)

    def line(self):
        ln = self.f.readline()
        if not ln:
            raise EOFError("connection closed")
        return ln.rstrip(b"\r\n")

    def cmd(self, tag, text):
        self.s.sendall(tag + b" " + text + b"\r\n")
        n = 0
        while True:
            ln = self.line()
            if ln.startswith(tag + b" "):
                if not ln.startswith(tag + b" OK"):
                    raise RuntimeError(ln)
                return n
            n += 1


def idle_sessions(port, tls, n, user, pw):
    conns = []
    for i in range(n):
        c = Conn(port, tls)
        c.line()
        c.cmd(b"a", b'LOGIN "%s" "%s"' % (user.encode(), pw.encode()))
        c.cmd(b"b", b"SELECT INBOX")
        c.s.sendall(b"c IDLE\r\n")
        if not c.line().startswith(b"+"):
            raise RuntimeError("no IDLE continuation")
        conns.append(c)
    return conns


def measure_idle(name, pids_fn, port, tls, n, user, pw, groups=None):
    """PSS growth per session of all server processes (and of each group
    of processes in groups: name -> pids function).  One session is open
    during the base measurement, so processes started at the first login
    (Tempest's worker, Dovecot's per-user imap) count as base."""
    warm = idle_sessions(port, tls, 1, user, pw)
    time.sleep(1)
    groups = groups or {}
    base = pss_kib(pids_fn())
    gbase = {k: pss_kib(fn()) for k, fn in groups.items()}
    conns = idle_sessions(port, tls, n, user, pw)
    time.sleep(2)
    after = pss_kib(pids_fn())
    gafter = {k: pss_kib(fn()) for k, fn in groups.items()}
    for c in conns + warm:
        c.s.close()
    time.sleep(1)
    return (after - base) / n, {k: (gafter[k] - gbase[k]) / n for k in groups}


def drop_caches():
    try:
        subprocess.run(["sync"])
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def time_fetch(port, user, pw, folder):
    c = Conn(port, False)
    c.line()
    c.cmd(b"a", b'LOGIN "%s" "%s"' % (user.encode(), pw.encode()))
    t0 = time.time()
    c.cmd(b"s", b"SELECT " + folder.encode())
    n = c.cmd(b"f", b"FETCH 1:* (FLAGS)")
    dt = time.time() - t0
    c.s.close()
    return dt, n


DOVECOT_CONF = """
base_dir = {w}/dovecot/run
state_dir = {w}/dovecot/state
log_path = {w}/dovecot/log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:{w}/dovecot-mail
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 0
default_process_limit = 5000
default_client_limit = 20000
default_vsz_limit = 0
mail_max_userip_connections = 10000
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {w}/dovecot/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={w}/dovecot-home
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {ports}
    ssl = yes
  }}
}}
service anvil {{
  client_limit = 20000
}}
service auth {{
  client_limit = 20000
}}
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--skip-idle", action="store_true")
    ap.add_argument("--tempest", default=os.path.join(ROOT, "build", "tempest"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "imap.md"))
    a = ap.parse_args()
    if os.getuid() != 0:
        sys.exit("run as root (dovecot needs it)")
    if shutil.which("dovecot") is None:
        sys.exit("apt-get install dovecot-imapd first")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sizes = [int(x) for x in a.sizes.split(",") if x]
    w = tempfile.mkdtemp(prefix="imap-bench-")
    os.chmod(w, 0o755)
    pw_ent = pwd.getpwnam("tempest")
    uid, gid = pw_ent.pw_uid, pw_ent.pw_gid
    print("generating folders in", w, file=sys.stderr)
    gen = os.path.join(w, "gen")
    for n in sizes:
        make_folder(os.path.join(gen, ".b%d" % n), n)
    make_folder(gen, 0)

    # --- Tempest
    tdir = os.path.join(w, "tempest")
    ports = {k: free_port() for k in instance_mod.DEFAULT_PORTS}
    instance_mod.create(tdir, ports, {
        "imapd_client_connection_limit": "0", "imapd_user_connection_limit": "0",
        "imapd_process_session_limit": "20000", "auth_failure_delay": "0",
        "maillog_file": os.path.join(tdir, "log")}, force=True, quiet=True)
    tpw = open(os.path.join(tdir, "demo-password")).read().strip()
    tmail = os.path.join(tdir, "mail", "example.test", "demo")
    shutil.rmtree(tmail)
    shutil.copytree(gen, tmail)
    chown_tree(os.path.join(tdir, "mail"), uid, gid)
    tproc = subprocess.Popen([a.tempest, "-c", os.path.join(tdir, "etc"), "start-fg"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    wait_port(ports["imap"])
    wait_port(ports["imaps"])
    # master binds the ports; imap-login makes the self-signed certificate
    # Dovecot is given below: wait for a greeting and the file
    end = time.time() + 120
    while time.time() < end:
        try:
            c = Conn(ports["imap"], False)
            ok = c.line().startswith(b"* OK")
            c.s.close()
            if ok and os.path.exists(os.path.join(tdir, "data", "tls", "server.key")):
                break
        except (OSError, EOFError):
            pass
        time.sleep(0.5)

    def tempest_pids(what=(b"imap-login", b"imapd")):
        """imap-login processes, the post-login master and its workers."""
        out = []
        for p in descendants(tproc.pid):
            try:
                cmd = open("/proc/%d/cmdline" % p, "rb").read().split(b"\0")
            except OSError:
                continue
            if any(w in cmd for w in what):
                out.append(p)
        return out

    # --- Dovecot
    ddir = os.path.join(w, "dovecot")
    for sub in ("run", "state"):
        os.makedirs(os.path.join(ddir, sub), exist_ok=True)
    dmail = os.path.join(w, "dovecot-mail")
    shutil.copytree(gen, dmail)
    os.makedirs(os.path.join(w, "dovecot-home"), exist_ok=True)
    chown_tree(dmail, uid, gid)
    chown_tree(os.path.join(w, "dovecot-home"), uid, gid)
    dport, dports = free_port(), free_port()
    cert = os.path.join(tdir, "data", "tls", "server.crt")
    key = os.path.join(tdir, "data", "tls", "server.key")
    with open(os.path.join(ddir, "dovecot.conf"), "w") as f:
        f.write(DOVECOT_CONF.format(w=w, cert=cert, key=key, uid=uid, gid=gid,
                                    port=dport, ports=dports))
    with open(os.path.join(ddir, "passwd"), "w") as f:
        f.write("demo@example.test:{PLAIN}%s::::::\n" % tpw)
    dproc = subprocess.Popen(["dovecot", "-F", "-c", os.path.join(ddir, "dovecot.conf")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    wait_port(dport)

    def dovecot_pids():
        return descendants(dproc.pid)

    user = "demo@example.test"
    rows = []
    try:
        for tls in (() if a.skip_idle else (False, True)):
            label = "TLS" if tls else "plaintext"
            # start from a fresh worker (stopped after 60 s without
            # sessions): a reused one would hide its share in freed heap
            end = time.time() + 180
            while time.time() < end and any(
                    b"worker" in open("/proc/%d/cmdline" % p, "rb").read()
                    for p in tempest_pids((b"imapd",))):
                time.sleep(2)
            t, tg = measure_idle("tempest", tempest_pids,
                                 ports["imaps" if tls else "imap"], tls, a.sessions,
                                 user, tpw, {
                                     "imap-login": lambda: tempest_pids((b"imap-login",)),
                                     "imapd": lambda: tempest_pids((b"imapd",))})
            d, _ = measure_idle("dovecot", dovecot_pids, dports if tls else dport,
                                tls, a.sessions, user, tpw)
            rows.append(("PSS per idle IDLE session, %d %s" % (a.sessions, label),
                         "%.1f KiB (imap-login %.1f + imapd %.1f)" % (
                             t, tg["imap-login"], tg["imapd"]), "%.1f KiB" % d))
        dropped = False
        for n in sizes:
            folder = ".b%d" % n
            name = "b%d" % n
            for f in os.listdir(os.path.join(tmail, folder)):
                if f.startswith("tempest-"):
                    os.unlink(os.path.join(tmail, folder, f))
            for f in os.listdir(os.path.join(dmail, folder)):
                if f.startswith("dovecot"):
                    os.unlink(os.path.join(dmail, folder, f))
            dropped = drop_caches()
            tc, tn = time_fetch(ports["imap"], user, tpw, name)
            tw, _ = time_fetch(ports["imap"], user, tpw, name)
            dropped = drop_caches() and dropped
            dc, dn = time_fetch(dport, user, tpw, name)
            dw, _ = time_fetch(dport, user, tpw, name)
            assert tn == dn == n, (tn, dn, n)
            rows.append(("SELECT + FETCH 1:* (FLAGS), %d msgs, cold" % n,
                         "%.3f s" % tc, "%.3f s" % dc))
            rows.append(("SELECT + FETCH 1:* (FLAGS), %d msgs, warm" % n,
                         "%.3f s" % tw, "%.3f s" % dw))
    finally:
        os.killpg(tproc.pid, 15)
        os.killpg(dproc.pid, 15)
        tproc.wait(10)
        dproc.wait(10)
    out = ["| measurement | Tempest imapd | Dovecot %s |" %
           subprocess.run(["dovecot", "--version"], capture_output=True,
                          text=True).stdout.split()[0],
           "|---|---|---|"]
    out += ["| %s | %s | %s |" % r for r in rows]
    note = ("cold = no index/UID list, page cache %s" %
            ("dropped" if dropped else "NOT dropped (not permitted here)"))
    text = "\n".join(out) + "\n\n" + note + "\n"
    print(text)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text)
    shutil.rmtree(w, ignore_errors=True)


if __name__ == "__main__":
    main()
