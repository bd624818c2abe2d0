"""Two Tempest instances sharing one MariaDB store (a private mariadbd
started by the test, UNIX socket only): Bayes learned on one node
classifies mail on the other, quarantine rows of both nodes are visible
from either, per-recipient thresholds set on one node apply on the
other; the content filter runs end to end over SMTP with the mysql:
store on both."""
import smtplib

from conftest import wait_for
from test_spam_commands import corpus_msg
from test_spam_mariadb import mariadb  # noqa: F401  (fixture)
from test_spam_smtp import FILTER_SVC, HIGH, LEVELS


def send(inst, msg, sender="promo@bulk.example"):
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=60) as c:
        c.ehlo("client.example")
        c.mail(sender)
        code, _ = c.rcpt("demo@example.test")
        assert code == 250
        code, text = c.data(msg.encode())
        return code, text.decode()


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def test_two_nodes_share_mariadb(make_instance, mariadb, tmp_path):  # noqa: F811
    extra = dict(LEVELS, spam_database=mariadb, bayes_min_spam_num="5",
                 bayes_min_ham_num="5", bayes_auto_learn="no")
    a = make_instance("node-a", extra=extra, extra_services=[FILTER_SVC]).start()
    b = make_instance("node-b", extra=extra, extra_services=[FILTER_SVC]).start()

    # Bayes: learned through node A's configuration (mysql: store)...
    spam, ham = tmp_path / "spam", tmp_path / "ham"
    spam.mkdir()
    ham.mkdir()
    for i in range(8):
        (spam / str(i)).write_text(corpus_msg(True, i))
        (ham / str(i)).write_text(corpus_msg(False, i))
    for kind, d in (("--spam", spam), ("--ham", ham)):
        r = a.cmd("learn", kind, str(d))
        assert r.returncode == 0, r.stdout + r.stderr
    assert "Database: 8 spam, 8 ham" in r.stdout, r.stdout
    # ...classifies mail that node B's filter scans over SMTP
    code, text = send(b, corpus_msg(True, 50))
    assert code == 250, text + b.log()
    msgs = b.wait_messages(1, timeout=60)
    assert len(msgs) == 1, b.log()
    body = read(msgs[0])
    assert "BAYES_99=" in body and "X-Spam-Flag: YES" in body, body
    code, text = send(b, corpus_msg(False, 50), sender="colleague50@corp.example")
    assert code == 250, text + b.log()
    msgs = b.wait_messages(2, timeout=60)
    assert len(msgs) == 2, b.log()
    ham_body = [read(p) for p in msgs if "colleague50" in read(p)][0]
    assert "BAYES_00=" in ham_body, ham_body

    # quarantine: one message quarantined on each node, both listed on both
    ids = []
    for node in (a, b):
        code, text = send(node, HIGH, sender="12345678@lucky.example")
        assert code == 250 and "quarantined as" in text, text + node.log()
        ids.append(text.split("quarantined as ")[1].split()[0])
    assert ids[0] != ids[1]
    for node in (a, b):
        r = node.cmd("quarantine", "list")
        assert r.returncode == 0, r.stderr
        listed = [line.split()[0] for line in r.stdout.splitlines()]
        assert sorted(listed) == sorted(ids), r.stdout
    r = b.cmd("quarantine", "show", ids[0])
    assert "X-Quarantine-Id: <%s>" % ids[0] in r.stdout

    # per-recipient thresholds set on node A apply on node B
    r = a.cmd("quarantine", "levels", "demo@example.test", "-999", "2", "3", "50")
    assert r.returncode == 0, r.stderr
    r = b.cmd("quarantine", "levels", "demo@example.test")
    assert "quarantine=3 " in r.stdout and "per recipient" in r.stdout, r.stdout
    code, text = send(b, corpus_msg(True, 51))
    assert code == 250 and "quarantined as" in text, text + b.log()
    assert wait_for(lambda: len(b.cmd("quarantine", "list").stdout.splitlines()) == 3,
                    timeout=30)
    assert len(b.messages()) == 2
