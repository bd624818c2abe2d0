"""The content filter at its limits, end to end over SMTP: many long
recipients (one filter request must hold them all), a store that keeps
the filter waiting past smtpd's timeout, a quarantined copy much larger
than the message, a message over 64 MiB.  In each case the client gets
a reply that tells the truth, no process dies, and nothing is stored
twice or cut short."""
import os
import smtplib
import subprocess
import time

from conftest import wait_for
from test_spam_smtp import FILTER_SVC, LEVELS, HAM, MID, HIGH, send, add_users, set_levels

# 255-byte domain labels joined: a relayed address of about 300 bytes
LONG_DOMAIN = ".".join(["d" * 60] * 3 + ["e" * 50]) + ".remote.example"


def long_rcpts(n):
    return ["r%04d%s@%s" % (i, "x" * 58, LONG_DOMAIN) for i in range(n)]


def test_recipients_within_one_filter_request(make_instance):
    """With a filter, the recipients of one transaction stay within what
    one request carries (128 KiB): past it RCPT gets 452 4.5.3 (the
    client sends the rest in another transaction), the message goes to
    the accepted ones, and smtpd survives (it used to abort building the
    request, taking every session of the process with it)."""
    inst = make_instance("manyrcpt", extra=LEVELS, extra_services=[FILTER_SVC]).start()
    other = smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30)
    other.ehlo("other.example")
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=60) as c:
        c.ehlo("client.example")
        c.mail("alice@example.org")
        accepted = 0
        for r in long_rcpts(1000):
            code, text = c.rcpt(r)
            if code != 250:
                break
            accepted += 1
        assert 300 < accepted < 1000
        assert code == 452 and b"4.5.3" in text, (code, text)
        # (smtplib's client would now send the rest in a new transaction)
        code, text = c.data(HAM.encode())
        assert code == 250, text
    assert other.noop()[0] == 250
    other.quit()
    log = inst.log()
    assert "panic" not in log and "signal" not in log
    assert "action=" in log


def test_split_of_many_recipients_stored_once(make_instance):
    """carol is quarantined from 4 points, the 999 others get a tagged
    copy: the split reply names every recipient again, and the
    quarantine entry is stored once, with a 250 (not stored, then the
    filter aborting on a reply too large for its frame, 451, and another
    entry on each retry)."""
    inst = make_instance("bigsplit", extra=LEVELS, extra_services=[FILTER_SVC])
    add_users(inst, "carol")
    inst.start()
    set_levels(inst, carol=("-999", "3", "4", "50"))
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=60) as c:
        c.ehlo("client.example")
        c.mail("deals@shop.example")
        assert c.rcpt("carol@example.test")[0] == 250
        n = 1
        for r in long_rcpts(999):
            if c.rcpt(r)[0] != 250:
                break
            n += 1
        code, text = c.data(MID.encode())
    assert code == 250, text
    assert n > 300
    entries = inst.cmd("quarantine", "list").stdout.splitlines()
    assert len([ln for ln in entries if "carol@example.test" in ln]) == 1
    assert "panic" not in inst.log()


def hold_store_lock(db, seconds):
    """A process holding the SQLite store's write lock for `seconds`, as the
    store file's owner (as `tempest learn` would); returns once it holds
    it."""
    st = os.stat(db)
    p = subprocess.Popen(
        ["/usr/bin/python3", "-c",
         "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], "
         "isolation_level=None); c.execute('BEGIN IMMEDIATE'); print('locked', "
         "flush=True); time.sleep(float(sys.argv[2])); c.execute('ROLLBACK')",
         db, str(seconds)],
        stdout=subprocess.PIPE, text=True,
        user=st.st_uid if os.getuid() == 0 else None,
        group=st.st_gid if os.getuid() == 0 else None)
    assert p.stdout.readline().strip() == "locked"
    return p


def test_quarantine_not_kept_after_smtpd_gave_up(make_instance):
    """The store is busy longer than spam_filter_timeout: smtpd answers
    451 and the client will send the message again, so the filter must
    not keep the entry it could only store after smtpd stopped waiting
    (it used to: one entry per try).  The retry, with the store free, is
    quarantined once."""
    inst = make_instance("slowq", extra=dict(LEVELS, spam_filter_timeout="2s"),
                         extra_services=[FILTER_SVC]).start()
    code, _ = send(inst, "alice@example.org", HAM)      # makes the store
    assert code == 250
    db = os.path.join(inst.dir, "data", "spam.db")
    assert wait_for(lambda: os.path.exists(db), 10)
    time.sleep(1)           # the auto-learning after that message is done
    lock = hold_store_lock(db, 3.5)
    try:
        code, text = send(inst, "12345678@lucky.example", HIGH)
    finally:
        lock.wait(timeout=30)
    assert code == 451, text
    # the filter got the store after smtpd's deadline: taken back
    assert wait_for(lambda: "taken back" in inst.log() or
                    "too close to smtpd's timeout" in inst.log(), 15), inst.log()[-2000:]
    assert inst.cmd("quarantine", "list").stdout.strip() == ""
    code, text = send(inst, "12345678@lucky.example", HIGH)
    assert code == 250 and "quarantined as" in text, text
    assert len(inst.cmd("quarantine", "list").stdout.splitlines()) == 1


def test_quarantined_copy_whole_with_many_subjects(make_instance):
    """The subject tag goes on each of 700 Subject: lines: the quarantined
    copy, the only one after the 250, grows past the message plus a few
    KB and must still be whole (it was cut at its buffer's bound)."""
    inst = make_instance("msubj", extra=LEVELS, extra_services=[FILTER_SVC]).start()
    msg = ("".join("Subject: part %d\n" % i for i in range(700)) + HIGH +
           "THE-END-OF-THE-MESSAGE\n")
    code, text = send(inst, "12345678@lucky.example", msg)
    assert code == 250 and "quarantined as" in text, text
    qid = text.split("quarantined as ")[1].split()[0]
    shown = inst.cmd("quarantine", "show", qid).stdout
    assert shown.count("Subject: [SPAM] part") == 700
    assert "THE-END-OF-THE-MESSAGE" in shown


def test_message_over_64_mib_scanned(make_instance):
    """message_size_limit above 64 MiB: a message of 65 MiB is scanned and
    delivered (the filter used to call the request malformed, a 451 on
    every try)."""
    inst = make_instance("big", extra=dict(LEVELS, message_size_limit="100000000"),
                         extra_services=[FILTER_SVC]).start()
    line = "x" * 998 + "\n"
    msg = HAM + line * (65 * 1024 * 1024 // len(line) + 10)
    assert len(msg) > 64 * 1024 * 1024
    code, text = send(inst, "alice@example.org", msg)
    assert code == 250, text
    msgs = inst.wait_messages(1, timeout=60)
    assert os.path.getsize(msgs[0]) > 64 * 1024 * 1024


def test_filter_listen_queue_full_does_not_stall_smtpd(make_instance):
    """A filter socket whose listen queue is full (a process that never
    accepts, its queue filled): smtpd's connect must not wait there,
    holding up every session of its process for as long as the queue
    stays full; the message gets 451 at once and another session is
    served meanwhile."""
    import socket
    inst = make_instance("stuck", extra={"spam_filter_service": "stuck",
                                         "spam_filter_timeout": "30s"}).start()
    path = os.path.join(inst.dir, "queue", "private", "stuck")
    lsn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsn.bind(path)
    os.chmod(path, 0o777)
    lsn.listen(0)
    fill = []
    try:
        while True:         # fill the listen queue until a connect would wait
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(path)
            except BlockingIOError:
                s.close()
                break
            fill.append(s)
            assert len(fill) < 100
        other = smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30)
        other.ehlo("other.example")
        t0 = time.time()
        code, text = send(inst, "alice@example.org", HAM)
        assert code == 451 and "4.7.1" in text, text
        assert time.time() - t0 < 10
        assert other.noop()[0] == 250
        other.quit()
        assert wait_for(lambda: "filter service busy" in inst.log(), 5), inst.log()[-2000:]
    finally:
        for s in fill:
            s.close()
        lsn.close()
