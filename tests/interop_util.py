"""Helpers of the interop tests (tests/test_interop_*.py): Tempest against
real third-party software.

Postfix: a private Postfix instance (Debian's postfix package, as
bench/mta runs it) in a temporary directory, listening only on 127.0.0.1
ports of its own, with no DNS at all (disable_dns_lookups, next hops
are always [127.0.0.1]:port), no client name lookups, every daemon out
of chroot, its own log file, and its own self-signed certificate.  The
system Postfix (if any) is never touched: the instance has its own
config_directory, queue_directory and data_directory and its master is
started directly (master -s -c DIR), in the foreground, so the test owns
its process and kills its whole process group at teardown.  Postfix's
master needs root; its daemons run as the `postfix` user (unprivileged)
except local/virtual delivery, which runs as the mailbox owner.

npm clients (nodemailer) are installed into tests/.node on first use,
as tests/test_imap_imapflow.py does for imapflow.
"""
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import Instance, free_port, wait_for, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scripts"))
import instance as instance_mod  # noqa: E402

NODE_DIR = os.path.join(HERE, ".node")
POSTFIX_DAEMON_DIR = "/usr/lib/postfix/sbin"
POSTFIX_MASTER = os.path.join(POSTFIX_DAEMON_DIR, "master")
# the Postfix services a private instance needs (no pipe(8) transports:
# they name users this machine may not have); chroot off for all
POSTFIX_SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def postfix_missing():
    """Why a private Postfix cannot run here, or None."""
    if not os.access(POSTFIX_MASTER, os.X_OK) or shutil.which("postfix") is None:
        return "Debian's postfix is not installed (scripts/packages/interop.test)"
    if os.getuid() != 0:
        return "Postfix's master must be started as root"
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return "no postfix system user (Debian's postfix package creates it)"
    return None


def make_cert(d, cn):
    """A self-signed certificate + key (PEM) for cn (and 127.0.0.1) in
    directory d."""
    os.makedirs(d, exist_ok=True)
    key = os.path.join(d, "key.pem")
    crt = os.path.join(d, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "2",
                    "-subj", "/CN=" + cn, "-addext",
                    f"subjectAltName=DNS:{cn},IP:127.0.0.1"],
                   check=True, capture_output=True)
    return crt, key


class Postfix:
    """A private Postfix on 127.0.0.1.

    Listeners (master.cf, each an smtpd on a port of its own):
      port        STARTTLS offered, 8BITMIME
      plain_port  no STARTTLS
      no8bit_port STARTTLS, but 8BITMIME not announced
      small_port  SIZE SMALL_LIMIT (message_size_limit)
      limit_port  at most RCPT_LIMIT recipients per message (452 4.5.3
                  for more, smtpd_recipient_limit)
    domains: virtual domains Postfix is the final destination for, each
             with one mailbox demo@domain (a Maildir)
    mailboxes: more addresses of those domains, delivered to the same
             Maildir as demo@ their domain
    relay: "[127.0.0.1]:PORT" - every other domain goes there (relayhost)
    main: extra main.cf settings; master_extra: lines added to master.cf;
    files: {name: text} written into the config directory ($config_directory
    in main.cf refers to it)."""

    SMALL_LIMIT = 100000
    RCPT_LIMIT = 2

    def __init__(self, base, domains=("remote.test",), relay=None, main=None,
                 master_extra="", files=None, mailboxes=()):
        self.dir = base
        self.domains = list(domains)
        domain = self.domains[0]
        self.etc = os.path.join(base, "etc")
        self.queue = os.path.join(base, "queue")
        self.data = os.path.join(base, "data")
        self.maillog = os.path.join(base, "maillog")
        self.port = free_port()
        self.plain_port = free_port()
        self.no8bit_port = free_port()
        self.small_port = free_port()
        self.limit_port = free_port()
        for d in (self.etc, self.queue, self.data):
            os.makedirs(d, exist_ok=True)
        pf = pwd.getpwnam("postfix")
        os.chown(self.data, pf.pw_uid, pf.pw_gid)
        # mailboxes belong to the same user as Tempest's (mail_owner)
        _, uid, gid = instance_mod.mail_owner()
        for d in self.domains:
            os.makedirs(self.maildir(d), exist_ok=True)
        for root, _, _ in os.walk(os.path.join(base, "mail")):
            os.chown(root, uid, gid)
        self.cert, self.key = make_cert(os.path.join(base, "tls"),
                                        "mx." + domain)
        conf = {
            "compatibility_level": "3.6",
            "myhostname": "mx." + domain,
            "mydomain": domain,
            "myorigin": "$mydomain",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "queue_directory": self.queue,
            "data_directory": self.data,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "daemon_directory": POSTFIX_DAEMON_DIR,
            # no DNS, no name lookups anywhere
            "disable_dns_lookups": "yes",
            "smtp_dns_support_level": "disabled",
            "smtp_host_lookup": "native",
            "smtpd_peername_lookup": "no",
            "smtputf8_enable": "yes",
            "biff": "no",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": base,
            "message_size_limit": "20480000",
            "virtual_mailbox_limit": "0",
            "virtual_mailbox_domains": ", ".join(self.domains),
            "virtual_mailbox_base": os.path.join(base, "mail"),
            "virtual_mailbox_maps": "texthash:" + os.path.join(self.etc, "vmailbox"),
            "virtual_uid_maps": f"static:{uid}",
            "virtual_gid_maps": f"static:{gid}",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            # TLS both ways; the peers' certificates are self-signed
            "smtpd_tls_cert_file": self.cert,
            "smtpd_tls_key_file": self.key,
            "smtpd_tls_security_level": "may",
            "smtpd_tls_loglevel": "1",
            "smtpd_tls_received_header": "yes",
            "smtp_tls_security_level": "may",
            "smtp_tls_loglevel": "1",
            # quick retries: a test waits for state, not for back-off
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
        }
        if relay:
            conf["relayhost"] = relay
        conf.update(main or {})
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            for k, v in conf.items():
                f.write(f"{k} = {v}\n")
        with open(os.path.join(self.etc, "vmailbox"), "w") as f:
            for d in self.domains:
                f.write(f"demo@{d} {d}/demo/\n")
            for addr in mailboxes:      # more addresses, same Maildir
                d = addr.split("@")[1]
                f.write(f"{addr} {d}/demo/\n")
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(f"127.0.0.1:{self.port} inet n - n - - smtpd\n")
            f.write(f"127.0.0.1:{self.plain_port} inet n - n - - smtpd\n"
                    "  -o smtpd_tls_security_level=none\n")
            f.write(f"127.0.0.1:{self.no8bit_port} inet n - n - - smtpd\n"
                    "  -o smtpd_discard_ehlo_keywords=8bitmime\n")
            f.write(f"127.0.0.1:{self.small_port} inet n - n - - smtpd\n"
                    f"  -o message_size_limit={self.SMALL_LIMIT}\n")
            f.write(f"127.0.0.1:{self.limit_port} inet n - n - - smtpd\n"
                    f"  -o smtpd_recipient_limit={self.RCPT_LIMIT}\n")
            f.write(POSTFIX_SERVICES)
            f.write(master_extra)
        for name, text in (files or {}).items():
            with open(os.path.join(self.etc, name), "w") as f:
                f.write(text)
        p = subprocess.run(["postfix", "-c", self.etc, "post-install",
                            "create-missing"], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("postfix post-install: " + p.stderr[-500:])
        self.proc = None

    def start(self):
        self.logf = open(os.path.join(self.dir, "master.out"), "ab")
        # -s: stay in the foreground (postfix start-fg does the same);
        # master makes itself a session leader, so its pid is the group
        self.proc = subprocess.Popen([POSTFIX_MASTER, "-s", "-c", self.etc],
                                     stdout=self.logf, stderr=self.logf,
                                     stdin=subprocess.DEVNULL)
        for p in (self.port, self.plain_port, self.no8bit_port,
                  self.small_port, self.limit_port):
            wait_port(p, timeout=30, proc=self.proc)
        return self

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)   # passed on to children
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None
        self.logf.close()

    def log(self, since=0):
        """Postfix's log (from character offset `since`: a test sharing
        the instance reads only its own part, from mark())."""
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()[since:]
        except FileNotFoundError:
            return ""

    def mark(self):
        return len(self.log())

    def sessions(self, since=0):
        """The smtpd 'disconnect from' lines (with the command counts)
        of the sessions that issued MAIL, logged after `since`."""
        return [ln for ln in self.log(since).splitlines()
                if "disconnect from" in ln and " mail=" in ln]

    def maildir(self, domain=None):
        return os.path.join(self.dir, "mail", domain or self.domains[0],
                            "demo")

    def messages(self, domain=None):
        """Messages in the Maildir of demo@domain (default: the first)."""
        out = []
        for sub in ("new", "cur"):
            p = os.path.join(self.maildir(domain), sub)
            if os.path.isdir(p):
                out += [os.path.join(p, f) for f in sorted(os.listdir(p))]
        return out

    def message_with(self, needle, timeout=60, domain=None):
        """Path of the message (in demo@domain's Maildir) containing the
        bytes needle, waiting up to timeout seconds; None if none."""
        def find():
            for p in self.messages(domain):
                if needle in read_bytes(p):
                    return p
            return None
        return wait_for(find, timeout, 0.1)



@contextlib.contextmanager
def module_instance(extra=None):
    """A started Tempest with every listener (SMTP, submission, SMTPS,
    IMAP(S), POP3(S)) up, for a whole test module (the tests of a file
    that only read from it or add messages share one); stopped and
    removed afterwards (kept with TEMPEST_KEEP_TEST_DIRS=1)."""
    tmp = tempfile.mkdtemp(prefix="tempest-interop-")
    os.chmod(tmp, 0o755)   # services run as the mail owner, not root
    settings = {"auth_failure_delay": "0"}
    settings.update(extra or {})
    inst = Instance(os.path.join(tmp, "i"), extra=settings)
    try:
        inst.start()
        for name in ("submission", "smtps", "imap", "imaps", "pop3", "pop3s"):
            wait_port(inst.ports[name], timeout=30, proc=inst.proc)
        # the IMAP/POP3 login processes have seen the probes go (per-IP
        # limits count over all processes), as imap_helpers does
        if not wait_for(lambda: inst.log().count("disconnect before login")
                        >= 4, 30):
            raise RuntimeError("probe connections not closed")
        yield inst
    finally:
        inst.stop()
        if not os.environ.get("TEMPEST_KEEP_TEST_DIRS"):
            shutil.rmtree(tmp, ignore_errors=True)


def ensure_npm_package(spec, name):
    """Install an npm package into tests/.node (once); skip the test with
    the reason when node/npm or the registry is not available."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed (Debian packages nodejs, npm)")
    if os.path.isdir(os.path.join(NODE_DIR, "node_modules", name)):
        return os.path.join(NODE_DIR, "node_modules")
    os.makedirs(NODE_DIR, exist_ok=True)
    p = subprocess.run(["npm", "install", "--no-audit", "--no-fund",
                        "--prefix", NODE_DIR, spec],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        pytest.skip(f"npm install {spec} failed (no registry?): "
                    + p.stderr[-300:])
    return os.path.join(NODE_DIR, "node_modules")


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def header_block(raw):
    """The header block of a raw message (bytes), CRLF or LF."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = raw.find(sep)
        if i >= 0:
            return raw[:i]
    return raw


def deadline(seconds):
    end = time.time() + seconds
    return lambda: max(0.0, end - time.time())
