"""End to end over SMTP: the filter service scans each message before the
final reply to DATA; ham and spam end tagged in the Maildir, mail over the
quarantine level is in the quarantine (not the Maildir) and `tempest
quarantine release` delivers it, mail over the reject level gets 550, a
filter that is down gives 451."""
import os
import re
import subprocess
import smtplib
import sqlite3
import time

import pytest

from conftest import wait_for

FILTER_SVC = "filter                unix  -       -       n       -       -       filter"

HAM = """From: Alice <alice@example.org>
To: demo@example.test
Subject: Lunch on Tuesday?

Hi, are we still on for lunch on Tuesday?  Alice
"""

MID = """From: "Deals" <deals@shop.example>
To: demo@example.test
Subject: Limited time offer
X-Spam-Flag: NO
X-Spam-Status: No, hits=-100 forged by the sender

Dear friend, order now: online pharmacy, no prescription needed.
Money back guarantee!  Click here: http://198.51.100.7/shop.php
"""

HIGH = """From: "Winner" <12345678@lucky.example>
To: demo@example.test
Subject: FREE V1AGRA NOW!!!

Dear friend, buy cheap viagra at our online pharmacy, no prescription
needed!  Click here: http://198.51.100.7/pills.php  100% guaranteed,
money back guarantee.  You have won the lottery, claim your prize.
Work from home and earn extra cash.  This is not spam.  To be removed
reply with remove me.
"""

BLOCKED = """From: Someone <someone@evil.example>
To: demo@example.test
Subject: hello

just a note
"""

LEVELS = {"spam_filter_service": "filter", "spam_tag_level": "-999",
          "spam_level": "5", "spam_quarantine_level": "15",
          "spam_reject_level": "50", "spam_subject_tag": "[SPAM] "}


def send(inst, sender, msg):
    """(code, reply) of the final reply to DATA."""
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as c:
        c.ehlo("client.example")
        c.mail(sender)
        code, _ = c.rcpt("demo@example.test")
        assert code == 250
        code, text = c.data(msg.encode())
        return code, text.decode()


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


@pytest.fixture
def spam_instance(make_instance):
    inst = make_instance("spam", extra=LEVELS, extra_services=[FILTER_SVC])
    with open(os.path.join(inst.etc, "spam.cf"), "w") as f:
        f.write("blocklist_from *@evil.example\n")
    return inst.start()


def test_tag_quarantine_release_reject(spam_instance):
    inst = spam_instance
    code, text = send(inst, "alice@example.org", HAM)
    assert code == 250, text + inst.log()
    code, text = send(inst, "deals@shop.example", MID)
    assert code == 250, text + inst.log()
    msgs = inst.wait_messages(2)
    assert len(msgs) == 2, inst.log()
    bodies = [read(p) for p in msgs]
    ham = [b for b in bodies if "Lunch" in b][0]
    mid = [b for b in bodies if "Limited time offer" in b][0]
    assert "\nX-Spam-Status: No, hits=" in ham
    assert "tagged_above=-999 required=5 tests=[" in ham
    assert "X-Spam-Flag" not in ham
    assert "\nX-Spam-Flag: YES\nX-Spam-Status: Yes, hits=" in mid
    assert "BODY_PHARMACY=2" in mid
    assert "forged by the sender" not in mid           # incoming headers removed
    assert mid.count("X-Spam-Status:") == 1
    assert "Subject: [SPAM] Limited time offer" in mid
    assert "\nX-Spam-Level: *****" in mid
    # auto-learn during delivery: the ham (score <= 0.1 without Bayes
    # rules) went into the Bayes database as ham
    con = sqlite3.connect(os.path.join(inst.dir, "data", "spam.db"))
    nham = con.execute("SELECT nham FROM bayes_total WHERE user = ''").fetchone()
    # ... and its logistic-regression sample next to it, with the weights
    # trained (the first sample is more than 1/20 of none)
    # (the filter trains after its reply to smtpd: wait for it)
    lr = con.execute("SELECT count(*) FROM lr_sample WHERE kind = 'h'").fetchone()[0]
    def trained():
        g = con.execute("SELECT gen FROM lr_model WHERE user = ''").fetchone()
        return g is not None and g[0] >= 1
    assert wait_for(trained, 20), inst.log()
    con.close()
    assert nham is not None and nham[0] >= 1, inst.log()
    assert lr >= 1, inst.log()

    # over the quarantine level: accepted, stored, not delivered
    code, text = send(inst, "12345678@lucky.example", HIGH)
    assert code == 250 and "quarantined as" in text, text + inst.log()
    qid = text.split("quarantined as ")[1].split()[0]
    assert len(inst.messages()) == 2
    r = inst.cmd("quarantine", "list")
    assert r.returncode == 0, r.stderr + inst.log()
    assert r.stdout.startswith(qid + " ") and "demo@example.test" in r.stdout
    r = inst.cmd("quarantine", "show", qid)
    assert "X-Quarantine-Id: <%s>" % qid in r.stdout
    assert "BODY_VIAGRA" in r.stdout
    # release: re-injected with sendmail, delivered, gone from the store
    r = inst.cmd("quarantine", "release", qid)
    assert r.returncode == 0, r.stdout + r.stderr + inst.log()
    msgs = inst.wait_messages(3)
    assert len(msgs) == 3, inst.log()
    released = [read(p) for p in msgs if "V1AGRA" in read(p)][0]
    assert "X-Quarantine-Id: <%s>" % qid in released
    assert inst.cmd("quarantine", "list").stdout == ""

    # over the reject level (block-listed sender): 550, nothing stored
    code, text = send(inst, "someone@evil.example", BLOCKED)
    assert code == 550 and "rejected as spam" in text, text + inst.log()
    assert len(inst.messages()) == 3
    assert inst.cmd("quarantine", "list").stdout == ""
    assert "action=reject" in inst.log()

    # per-recipient levels in the store override main.cf
    r = inst.cmd("quarantine", "levels", "demo@example.test", "-999", "5", "8", "50")
    assert r.returncode == 0, r.stderr
    r = inst.cmd("quarantine", "levels", "demo@example.test")
    assert "quarantine=8 " in r.stdout and "per recipient" in r.stdout
    code, text = send(inst, "deals@shop.example", MID)
    assert code == 250 and "quarantined as" in text, text + inst.log()
    assert len(inst.messages()) == 3
    assert inst.cmd("quarantine", "levels", "demo@example.test", "delete").returncode == 0
    # learn-ham: learned as ham (Bayes and an LR sample, the weights
    # retrained), then released
    qid = text.split("quarantined as ")[1].split()[0]
    con = sqlite3.connect(os.path.join(inst.dir, "data", "spam.db"))
    gen0 = con.execute("SELECT gen FROM lr_model WHERE user = ''").fetchone()[0]
    nh0 = con.execute("SELECT count(*) FROM lr_sample WHERE kind = 'h'").fetchone()[0]
    con.close()
    r = inst.cmd("quarantine", "learn-ham", qid)
    assert r.returncode == 0, r.stdout + r.stderr + inst.log()
    assert len(inst.wait_messages(4)) == 4, inst.log()
    con = sqlite3.connect(os.path.join(inst.dir, "data", "spam.db"))
    assert con.execute("SELECT gen FROM lr_model WHERE user = ''").fetchone()[0] > gen0
    assert con.execute("SELECT count(*) FROM lr_sample WHERE kind = 'h'").fetchone()[0] \
        == nh0 + 1
    con.close()
    assert "(global)" in inst.cmd("quarantine", "levels", "demo@example.test").stdout


def ham_learned(db):
    """Messages learned as ham in the global Bayes database db."""
    con = sqlite3.connect(db)
    try:
        row = con.execute("SELECT nham FROM bayes_total WHERE user = ''").fetchone()
        return row[0] if row else 0
    finally:
        con.close()


def first_ham_learned(inst):
    """Send one ham (it creates the spam database's tables) and wait until
    it is learned: the database's path and a reader of its ham count."""
    code, text = send(inst, "alice@example.org", HAM)
    assert code == 250, text + inst.log()
    db = os.path.join(inst.dir, "data", "spam.db")
    assert wait_for(lambda: ham_learned(db) == 1, 20), inst.log()
    return db, lambda: ham_learned(db)


def test_autolearn_after_reply(spam_instance):
    """The filter auto-learns after its reply to smtpd: while another
    process holds the spam database's write lock (as `tempest learn`
    does during a batch) a message still gets its 250, and is learned
    once the lock is released.  (The learning used to come first: the
    reply waited for the lock, and the learning failed after the busy
    timeout.)  Messages that find the lock held wait in the filter
    process, which learns them together once it is free, none lost."""
    inst = spam_instance
    db, nham = first_ham_learned(inst)
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        for day in ("Friday", "Monday", "Sunday"):
            code, text = send(inst, "alice@example.org", HAM.replace("Tuesday", day))
            assert code == 250, text + inst.log()
        time.sleep(1.5)                 # past the filter's idle retry
        assert nham() == 1              # not learned while the lock is held
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert wait_for(lambda: nham() == 4, 20), inst.log()
    assert len(inst.wait_messages(4)) == 4, inst.log()


def test_autolearn_held_learned_at_stop(spam_instance):
    """Messages a filter process holds because another writer had the
    spam database are learned when the system stops (SIGTERM), not lost:
    the filter waits for the store before it exits (here the lock is
    released a second after the stop signal, well inside the 4 seconds
    master gives its children)."""
    import signal
    inst = spam_instance
    db, nham = first_ham_learned(inst)
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        for day in ("Friday", "Monday"):
            code, text = send(inst, "alice@example.org", HAM.replace("Tuesday", day))
            assert code == 250, text + inst.log()
        time.sleep(1.5)                 # past the filter's idle retry
        assert nham() == 1              # held, not learned
        inst.proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    inst.proc.wait(15)
    assert nham() == 3, inst.log()
    import re
    held = re.findall(r"filter: learned (\d+) held message\(s\) before stopping", inst.log())
    assert sum(map(int, held)) == 2, inst.log()


def test_quarantine_on_disk_before_250(make_instance, tmp_path):
    """A quarantined message's only copy is in the store, so the 250
    smtpd gives for it must come after the quarantine row is on stable
    storage: seen by strace, the filter syncs the SQLite WAL it wrote the
    row to before it answers smtpd (the store's other commits use
    synchronous = NORMAL, which does not)."""
    import re
    inst = make_instance("spamtrace", extra=LEVELS, extra_services=[FILTER_SVC])
    out = tmp_path / "trace"
    inst.start_traced(out, ["pwrite64", "fsync", "fdatasync", "sendmsg"], strsize=20)
    code, text = send(inst, "12345678@lucky.example", HIGH)
    assert code == 250 and "quarantined as" in text, text + inst.log()
    qid = text.split("quarantined as ")[1].split()[0]
    wal = re.compile(r"^(\d+) +pwrite64\(\d+<[^>]*spam\.db-wal>")

    def replies_after_wal_writes():
        """(calls between the last WAL write and the reply, ...) for each
        reply a process sent after writing the WAL: the filter's"""
        lines = out.read_text().splitlines()
        found = []
        for pid in {m.group(1) for m in map(wal.match, lines) if m}:
            mine = [ln.split(None, 1)[1] for ln in lines
                    if ln.split(None, 1)[0] == pid]
            last = None
            for k, ln in enumerate(mine):
                if ln.startswith("pwrite64(") and "spam.db-wal>" in ln:
                    last = k
                elif ln.startswith("sendmsg(") and last is not None:
                    found.append(mine[last:k + 1])
                    last = None
        return found

    # strace prints a call when it returns: the reply may come a moment
    # after smtpd has answered
    assert wait_for(lambda: replies_after_wal_writes(), 10), out.read_text()[-3000:]
    for calls in replies_after_wal_writes():
        assert any(re.match(r"f(data)?sync\(\d+<[^>]*spam\.db-wal>", c)
                   for c in calls[1:-1]), "\n".join(calls)
    r = inst.cmd("quarantine", "show", qid)
    assert r.returncode == 0 and "V1AGRA" in r.stdout, r.stderr


def test_per_user_bayes(make_instance):
    """spam_bayes_per_user = yes: the filter auto-learns into the
    recipient's own database (not the global one), and `quarantine
    learn-ham` learns into the database the filter used."""
    inst = make_instance("peruser", extra=dict(LEVELS, spam_bayes_per_user="yes"),
                         extra_services=[FILTER_SVC]).start()
    db = os.path.join(inst.dir, "data", "spam.db")

    def totals():
        if not os.path.exists(db):
            return {}
        con = sqlite3.connect(db)
        try:
            return {u: (s, h) for u, s, h in
                    con.execute("SELECT user, nspam, nham FROM bayes_total")}
        except sqlite3.OperationalError:
            return {}
        finally:
            con.close()

    code, text = send(inst, "alice@example.org", HAM)
    assert code == 250, text + inst.log()
    assert wait_for(lambda: totals().get("demo@example.test") == (0, 1), 20), \
        (totals(), inst.log())
    # over the quarantine level: auto-learned as spam (12 points and more
    # without the Bayes rules), quarantined
    code, text = send(inst, "12345678@lucky.example", HIGH)
    assert code == 250 and "quarantined as" in text, text + inst.log()
    qid = text.split("quarantined as ")[1].split()[0]
    assert wait_for(lambda: totals().get("demo@example.test") == (1, 1), 20), \
        (totals(), inst.log())
    # learn-ham moves it to ham in demo's database; the global one stays
    # untouched
    r = inst.cmd("quarantine", "learn-ham", qid)
    assert r.returncode == 0, r.stdout + r.stderr + inst.log()
    t = totals()
    assert t.get("demo@example.test") == (0, 2) and "" not in t, t
    assert len(inst.wait_messages(2)) == 2, inst.log()


def test_filter_down_tempfails(make_instance):
    # spam_filter_service names a service that does not run
    inst = make_instance("down", extra={"spam_filter_service": "filter",
                                        "spam_filter_timeout": "5s"}).start()
    code, text = send(inst, "alice@example.org", HAM)
    assert code == 451 and "4.7.1" in text, text
    assert inst.messages() == []
    assert wait_for(lambda: "content filter" in inst.log(), 5)


def test_subject_tag_added_when_no_subject(spam_instance):
    """Spam without a Subject: gets one with the tag alone."""
    inst = spam_instance
    msg = MID.replace("Subject: Limited time offer\n", "")
    code, text = send(inst, "deals@shop.example", msg)
    assert code == 250, text + inst.log()
    msgs = inst.wait_messages(1)
    assert len(msgs) == 1, inst.log()
    body = read(msgs[0])
    assert "\nX-Spam-Flag: YES\n" in body, body
    assert "\nSubject: [SPAM]\n" in body and body.count("Subject:") == 1, body


def test_filter_down_accept_when_configured(make_instance):
    inst = make_instance("down2", extra={
        "spam_filter_service": "filter",
        "spam_filter_failure_action": "accept"}).start()
    code, text = send(inst, "alice@example.org", HAM)
    assert code == 250, text
    msgs = inst.wait_messages(1)
    assert len(msgs) == 1 and "X-Spam-Status" not in read(msgs[0])


def test_incoming_spam_headers_removed_below_tag_level(make_instance):
    inst = make_instance("hightag", extra=dict(LEVELS, spam_tag_level="100",
                                              spam_level="200"),
                         extra_services=[FILTER_SVC]).start()
    forged = "X-Spam-Flag: YES\nX-Spam-Status: Yes, hits=99 forged\n" + HAM
    code, text = send(inst, "alice@example.org", forged)
    assert code == 250, text + inst.log()
    code, text = send(inst, "alice@example.org", HAM.replace("Lunch", "Dinner"))
    assert code == 250, text
    msgs = inst.wait_messages(2)
    assert len(msgs) == 2, inst.log()
    for m in msgs:
        body = read(m)
        assert "X-Spam-" not in body and "forged" not in body   # below the tag level
    assert "action=tag" in inst.log() and "action=accept" in inst.log()


def add_users(inst, *names):
    """More mailboxes next to demo's (same owner, same password)."""
    users = os.path.join(inst.etc, "users")
    with open(users) as f:
        demo = [ln for ln in f if ln.startswith("demo@")][0]
    st = os.stat(inst.maildir())
    with open(users, "a") as f:
        for n in names:
            f.write(demo.replace("demo@", n + "@").replace("/demo/", "/%s/" % n))
            for sub in ("", "new", "cur", "tmp"):
                p = os.path.join(inst.maildir(n), sub)
                os.makedirs(p, exist_ok=True)
                os.chown(p, st.st_uid, st.st_gid)


def send_to(inst, rcpts, msg):
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as c:
        c.ehlo("client.example")
        c.mail("deals@shop.example")
        for r in rcpts:
            assert c.rcpt(r)[0] == 250
        code, text = c.data(msg.encode())
        return code, text.decode()


SPLIT_RCPTS = ["demo@example.test", "bob@example.test", "carol@example.test"]
# bob: spam only at 20 (tagged "No"); carol: quarantined from 4
SPLIT_LEVELS = {"bob": ("-999", "20", "30", "50"), "carol": ("-999", "3", "4", "50")}


def set_levels(inst, **users):
    """Per-recipient levels (tag, spam, quarantine, reject) of user@example.test."""
    for user, lv in users.items():
        r = inst.cmd("quarantine", "levels", user + "@example.test", *lv)
        assert r.returncode == 0, r.stderr


def sqlite_as_owner(db, sql):
    """Run sql on the instance's SQLite store as the store file's owner (a
    -wal/-shm file made by root would shut the filter out)."""
    st = os.stat(db)
    r = subprocess.run(["/usr/bin/python3", "-c",
                        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                        "c.executescript(sys.argv[2]); c.commit(); c.close()", db, sql],
                       user=st.st_uid if os.getuid() == 0 else None,
                       group=st.st_gid if os.getuid() == 0 else None,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_split_quarantine_all_or_none(make_instance):
    """Two quarantined groups of one split (bob: spam at 3, quarantine at
    4; carol: quarantine at 4 but spam only at 20) are stored together:
    when the second insert fails (a SQLite trigger refuses carol's), the
    first is rolled back too and the client gets 451 with nothing
    delivered or quarantined, so its retry stores each exactly once."""
    inst = make_instance("splitq", extra=LEVELS, extra_services=[FILTER_SVC])
    add_users(inst, "bob", "carol")
    inst.start()
    set_levels(inst, bob=("-999", "3", "4", "50"), carol=("-999", "20", "4", "50"))
    db = os.path.join(inst.dir, "data", "spam.db")
    sqlite_as_owner(db, "CREATE TRIGGER refuse_carol BEFORE INSERT ON quarantine "
                    "WHEN NEW.recipients LIKE '%carol%' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;")
    code, text = send_to(inst, SPLIT_RCPTS, MID)
    assert code == 451 and "quarantine not available" in text, (code, text, inst.log())
    assert "quarantine failed" in inst.log() and "action=tempfail (split, 3 groups)" in inst.log()
    assert "(split) tests" not in inst.log()
    assert inst.cmd("quarantine", "list").stdout == ""
    time.sleep(1)
    assert inst.messages() == []
    sqlite_as_owner(db, "DROP TRIGGER refuse_carol;")
    code, text = send_to(inst, SPLIT_RCPTS, MID)
    assert code == 250 and "queued as" in text, text + inst.log()
    assert len(inst.wait_messages(1)) == 1
    q = inst.cmd("quarantine", "list").stdout.splitlines()
    assert len(q) == 2, q
    assert sorted(ln.split("-> ")[1] for ln in q) == ["bob@example.test",
                                                      "carol@example.test"]
    shown = {ln.split("-> ")[1]: inst.cmd("quarantine", "show", ln.split()[0]).stdout
             for ln in q}
    assert "X-Spam-Flag: YES" in shown["bob@example.test"]
    assert "X-Spam-Flag" not in shown["carol@example.test"]
    assert inst.messages(user="bob") == [] and inst.messages(user="carol") == []
    inst.stop()


def test_store_created_after_filter_started(make_instance):
    """A filter that could not open the store when it started (its
    directory not there yet; or the moment `tempest quarantine levels`
    creates the file, root's until it is handed over) opens it once it
    can: a message before gets the global levels, the next one the
    recipient's own."""
    inst = make_instance("latestore", extra=dict(
        LEVELS, spam_database="sqlite:$data_directory/later/spam.db"),
        extra_services=[FILTER_SVC])
    add_users(inst, "bob")
    inst.start()
    code, text = send_to(inst, ["bob@example.test"], MID)
    assert code == 250, text
    first = [read(p) for p in inst.wait_messages(1, user="bob")]
    assert "required=5 " in first[0] and "X-Spam-Flag: YES" in first[0]
    assert "store unavailable" in inst.log(), inst.log()
    later = os.path.join(inst.dir, "data", "later")
    os.mkdir(later)
    st = os.stat(inst.maildir())
    os.chown(later, st.st_uid, st.st_gid)
    set_levels(inst, bob=("-999", "20", "30", "50"))
    time.sleep(1.1)                     # (one try a second at most)
    code, text = send_to(inst, ["bob@example.test"], MID)
    assert code == 250, text
    both = [read(p) for p in inst.wait_messages(2, user="bob")]
    second = [m for m in both if m != first[0]]
    assert len(second) == 1 and "required=20 " in second[0], inst.log()
    assert "X-Spam-Flag" not in second[0]
    # the filter process that could not open it says so when it can (a
    # busy machine may have had a new one, which opens it from the start,
    # take the second message)
    pids = re.findall(r"tempest/filter\[(\d+)\]: \w+: filter: from=", inst.log())
    assert len(pids) == 2, inst.log()
    if pids[0] == pids[1]:
        assert "later/spam.db open now" in inst.log(), inst.log()
    inst.stop()


def test_split_by_recipient_levels(make_instance):
    """One message to three recipients whose own levels call for three
    treatments (spam_split_recipients = yes, the default): demo (global
    levels) gets a copy flagged as spam with the subject tag, bob (spam
    level 20) one tagged "No", carol (quarantine level 4) none — hers is
    in the quarantine with her alone as recipient, and release delivers
    it to her only.  With spam_split_recipients = no the most lenient
    levels (bob's) apply to all three."""
    inst = make_instance("split", extra=LEVELS, extra_services=[FILTER_SVC])
    add_users(inst, "bob", "carol")
    inst.start()
    # before any mail: the command creates the store, as the filter's user
    set_levels(inst, **SPLIT_LEVELS)
    if os.getuid() == 0:
        db = os.stat(os.path.join(inst.dir, "data", "spam.db"))
        assert db.st_uid == os.stat(inst.maildir()).st_uid != 0
    # another session open: smtpd commits the split's two copies through
    # its group commit (both durable before the 250), not in line
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as idle:
        idle.ehlo("idle.example")
        code, text = send_to(inst, SPLIT_RCPTS, MID)
    assert code == 250 and "queued as" in text, text + inst.log()
    demo = [read(p) for p in inst.wait_messages(1)]
    bob = [read(p) for p in inst.wait_messages(1, user="bob")]
    assert len(demo) == 1 and len(bob) == 1, inst.log()
    assert "\nX-Spam-Flag: YES\nX-Spam-Status: Yes, hits=" in demo[0]
    assert "required=5 " in demo[0] and "Subject: [SPAM] Limited time offer" in demo[0]
    assert "X-Spam-Flag" not in bob[0] and "\nX-Spam-Status: No, hits=" in bob[0]
    assert "required=20 " in bob[0] and "Subject: Limited time offer" in bob[0]
    assert "forged by the sender" not in demo[0] + bob[0]
    assert "Delivered-To: demo@example.test" in demo[0]
    assert "Delivered-To: bob@example.test" in bob[0]
    assert inst.messages(user="carol") == []
    r = inst.cmd("quarantine", "list")
    assert len(r.stdout.splitlines()) == 1 and r.stdout.endswith(
        "-> carol@example.test\n"), r.stdout
    qid = r.stdout.split()[0]
    log = inst.log()
    assert "(split)" in log and "quarantine_id=" + qid in log, log
    assert "quarantined as %s (score" % qid in log
    assert inst.cmd("quarantine", "release", qid).returncode == 0
    carol = [read(p) for p in inst.wait_messages(1, user="carol")]
    assert len(carol) == 1 and "X-Quarantine-Id: <%s>" % qid in carol[0]
    assert "required=3 " in carol[0]
    time.sleep(1)
    assert len(inst.messages()) == 1 and len(inst.messages(user="bob")) == 1
    # all alike: no split, one copy for all
    assert inst.cmd("quarantine", "levels", "bob@example.test", "delete").returncode == 0
    code, text = send_to(inst, SPLIT_RCPTS[:2], MID)
    assert code == 250
    assert len(inst.wait_messages(2)) == 2 and len(inst.wait_messages(2, user="bob")) == 2
    assert inst.log().count("(split)") == 3, inst.log()
    assert inst.log().count("tagged by the content filter: queued as") == 3
    inst.stop()

    off = make_instance("nosplit", extra=dict(LEVELS, spam_split_recipients="no"),
                        extra_services=[FILTER_SVC])
    add_users(off, "bob", "carol")
    off.start()
    set_levels(off, **SPLIT_LEVELS)
    code, text = send_to(off, SPLIT_RCPTS, MID)
    assert code == 250 and "queued as" in text, text
    for user in ("demo", "bob", "carol"):
        got = [read(p) for p in off.wait_messages(1, user=user)]
        assert len(got) == 1 and "X-Spam-Flag" not in got[0], (user, off.log())
        assert "required=20 " in got[0]
    assert off.cmd("quarantine", "list").stdout == ""


def test_split_concurrent_sessions(make_instance):
    """Split messages from several sessions at once (smtpd's group commit
    then takes every session's copies together): each message ends as
    exactly one copy for demo, one for bob and one quarantine entry for
    carol, with no error logged."""
    import threading
    inst = make_instance("splitload", extra=LEVELS, extra_services=[FILTER_SVC])
    add_users(inst, "bob", "carol")
    inst.start()
    set_levels(inst, **SPLIT_LEVELS)
    clients, per = 4, 6
    codes = []

    def client(k):
        with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=60) as c:
            c.ehlo("client%d.example" % k)
            for j in range(per):
                c.mail("deals@shop.example")
                for r in SPLIT_RCPTS:
                    assert c.rcpt(r)[0] == 250
                msg = MID.replace("Limited time offer", "Offer %d.%d" % (k, j))
                code, text = c.data(msg.encode())
                codes.append((code, text.decode()))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    n = clients * per
    assert len(codes) == n and all(c == 250 for c, _ in codes), codes
    demo = inst.wait_messages(n)
    bob = inst.wait_messages(n, user="bob")
    assert len(demo) == n and len(bob) == n, inst.log()
    subjects = sorted(ln for p in demo for ln in read(p).splitlines()
                      if ln.startswith("Subject:"))
    assert subjects == sorted("Subject: [SPAM] Offer %d.%d" % (k, j)
                              for k in range(clients) for j in range(per))
    q = inst.cmd("quarantine", "list").stdout.splitlines()
    assert len(q) == n and all(ln.endswith("-> carol@example.test") for ln in q), q
    time.sleep(1)
    assert inst.messages(user="carol") == []
    log = inst.log()
    assert "error" not in log.lower() and "warning" not in log.lower(), log


def test_alike_recipients_get_the_lenient_levels(make_instance):
    """Recipients treated alike are not split, and the one copy gets the
    most lenient value of each level among them, whatever their order:
    bob would refuse the message (reject at 8), carol quarantines it
    (reject at 50); both quarantine it after the split's grouping, so it
    is quarantined for both, not refused because bob came last."""
    inst = make_instance("alike", extra=LEVELS, extra_services=[FILTER_SVC])
    add_users(inst, "bob", "carol")
    inst.start()
    set_levels(inst, bob=("-999", "3", "4", "8"), carol=("-999", "3", "4", "50"))
    for order in (["carol@example.test", "bob@example.test"],
                  ["bob@example.test", "carol@example.test"]):
        code, text = send_to(inst, order, MID)
        assert code == 250 and "quarantined as" in text, (order, code, text, inst.log())
    q = inst.cmd("quarantine", "list").stdout.splitlines()
    assert len(q) == 2, q
    assert "(split)" not in inst.log()
    for ln in q:
        shown = inst.cmd("quarantine", "show", ln.split()[0]).stdout
        assert "required=3 " in shown, shown


def test_quarantine_subject_as_a_reader_shows_it(make_instance):
    """A rule set written for SpamAssassin's reading (one with a
    util_rb_tld list) reads a Subject: with raw 8-bit bytes that are not
    all UTF-8 as SpamAssassin does, the whole value as Windows-1252; the
    quarantine lists it as a reader shows it, the valid UTF-8 kept: the
    header rule sees "cafÃ©", the quarantine says "café"."""
    inst = make_instance("q8bit", extra=LEVELS, extra_services=[FILTER_SVC])
    with open(os.path.join(inst.etc, "spam.cf"), "w") as f:
        f.write("util_rb_tld com example\n"
                "header T_SA_READING Subject =~ /caf\\xc3\\x83\\xc2\\xa9/\n"
                "score T_SA_READING 30\n")
    inst.start()
    msg = (b"From: Deals <deals@shop.example>\r\nTo: demo@example.test\r\n"
           b"Subject: caf\xc3\xa9 \xe9t\xe9\r\n\r\nhello\r\n")
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as c:
        c.ehlo("client.example")
        c.mail("deals@shop.example")
        assert c.rcpt("demo@example.test")[0] == 250
        code, text = c.data(msg)
    text = text.decode()
    assert code == 250 and "quarantined as" in text, text + inst.log()
    qid = text.split("quarantined as ")[1].split()[0]
    r = inst.cmd("quarantine", "list", text=False)
    assert r.returncode == 0, r.stderr
    line = r.stdout.decode("utf-8")
    assert line.startswith(qid + " ") and " caf\u00e9 \u00e9t\u00e9 <deals@shop.example>" in line, line
    shown = inst.cmd("quarantine", "show", qid, text=False).stdout
    assert b"T_SA_READING=30" in shown, shown
    assert b"\nSubject: [SPAM] caf\xc3\xa9 \xe9t\xe9\n" in shown, shown   # bytes as sent


def test_each_recipients_own_levels_decide(make_instance):
    """bob quarantines from 4 points and never refuses; carol refuses from
    5 and never quarantines.  Each alone: quarantine, 550.  Together the
    one treatment is that of the recipient treated most leniently,
    bob's quarantine (with or without the split), never a delivery:
    the most lenient value of each level (quarantine never, reject
    never) used to deliver it to both, tagged."""
    for split in ("yes", "no"):
        inst = make_instance("own" + split, extra=dict(LEVELS, spam_split_recipients=split),
                             extra_services=[FILTER_SVC])
        add_users(inst, "bob", "carol")
        inst.start()
        set_levels(inst, bob=("-999", "3", "4", "999"), carol=("-999", "3", "999", "5"))
        code, text = send_to(inst, ["bob@example.test"], MID)
        assert code == 250 and "quarantined as" in text, (split, text)
        with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as c:
            c.ehlo("client.example")
            c.mail("deals@shop.example")
            assert c.rcpt("carol@example.test")[0] == 250
            code, text = c.data(MID.encode())
            assert code == 550, (split, text)
        code, text = send_to(inst, ["bob@example.test", "carol@example.test"], MID)
        assert code == 250 and "quarantined as" in text, (split, text)
        q = inst.cmd("quarantine", "list").stdout.splitlines()
        # (listed by time, then id: the two may share a second)
        assert len(q) == 2 and [ln for ln in q if ln.endswith(
            "-> bob@example.test,carol@example.test")], q
        time.sleep(1)
        assert inst.messages(user="bob") == [] and inst.messages(user="carol") == []
        inst.stop()


def test_forged_spam_headers_removed_after_500_headers(make_instance):
    """Below the tag level a message with X-Spam-* headers is rewritten
    without them, wherever they are in the header block: past the 500
    headers the analysis reads (a forged X-Spam-Flag there was
    delivered), and every X-Spam-* name (another filter's X-Spam-Bar,
    X-Spam-Tests, ...), not only those Tempest writes."""
    inst = make_instance("forge", extra=dict(LEVELS, spam_tag_level="100", spam_level="200"),
                         extra_services=[FILTER_SVC]).start()
    filler = "".join("X-Filler-%d: x\n" % i for i in range(500))
    forged = filler + "X-Spam-Flag: YES\nX-Spam-Status: Yes, hits=99 forged\n" + HAM
    other = ("X-Spam-Bar: ++++++++\nX-Spam-Tests: forged\nx-spam-virus: No\n"
             "X-Spam-Relays-Trusted: [ ip=10.0.0.1 ]\n" + HAM)
    for msg in (forged, other):
        code, text = send(inst, "alice@example.org", msg)
        assert code == 250, text
    msgs = inst.wait_messages(2)
    for m in msgs:
        body = read(m)
        assert not [ln for ln in body.splitlines() if ln.lower().startswith("x-spam-")], body[:300]
        assert "X-Filler-499: x" in body or "Lunch on Tuesday" in body


def test_levels_whatever_the_case_of_the_address(make_instance):
    """carol's own levels (quarantine from 4) are hers however the client
    writes her address, as her mailbox is: RCPT TO:<Carol@example.test>
    used to reach her mailbox with the global levels."""
    inst = make_instance("lcase", extra=LEVELS, extra_services=[FILTER_SVC])
    add_users(inst, "carol")
    inst.start()
    set_levels(inst, carol=("-999", "3", "4", "50"))
    for who in ("carol@example.test", "Carol@example.test", "CAROL@EXAMPLE.TEST"):
        code, text = send_to(inst, [who], MID)
        assert code == 250 and "quarantined as" in text, (who, text)
    time.sleep(1)
    assert inst.messages(user="carol") == []
    assert "carol@example.test" in inst.cmd("quarantine", "levels").stdout


def test_release_to_a_recipient_with_a_comma(make_instance):
    """A quarantined message for "smith,john"@remote.example and demo is
    released to both: the quarantine keeps recipients one per line (it
    joined them with commas and split them there again, and the release
    failed on `"smith`)."""
    inst = make_instance("comma", extra=LEVELS, extra_services=[FILTER_SVC]).start()
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as c:
        c.ehlo("client.example")
        c.mail("12345678@lucky.example")
        assert c.rcpt('"smith,john"@remote.example')[0] == 250
        assert c.rcpt("demo@example.test")[0] == 250
        code, text = c.data(HIGH.encode())
    assert code == 250 and b"quarantined as" in text, text
    qid = text.decode().split("quarantined as ")[1].split()[0]
    listed = inst.cmd("quarantine", "list").stdout
    assert '"smith,john"@remote.example,demo@example.test' in listed, listed
    r = inst.cmd("quarantine", "release", qid)
    assert r.returncode == 0 and "released " + qid in r.stdout, r.stderr
    assert len(inst.wait_messages(1)) == 1
    assert wait_for(lambda: 'to=<"smith,john"@remote.example>' in inst.log(), 15), \
        inst.log()[-3000:]


def test_quarantine_list_shows_no_terminal_controls(make_instance):
    """A subject is the sender's to write, and its encoded words can hold
    any byte: `quarantine list` prints escape sequences, bells and C1
    controls (U+009B is CSI) as '?', not to the admin's terminal."""
    inst = make_instance("ctl", extra=LEVELS, extra_services=[FILTER_SVC]).start()
    msg = HIGH.replace("Subject: FREE V1AGRA NOW!!!",
                       "Subject: =?utf-8?q?red=1B[31mALERT=07=C2=9B2J_done?=")
    code, text = send(inst, "12345678@lucky.example", msg)
    assert code == 250 and "quarantined as" in text, text
    out = inst.cmd("quarantine", "list", text=False).stdout
    assert b"red?[31mALERT??2J done" in out, out
    assert not any(b in out for b in (b"\x1b", b"\x07", b"\xc2\x9b"))
