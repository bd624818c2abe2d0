"""The store on MariaDB: a private mariadbd (UNIX socket only, no TCP)
started by the test in a temporary data directory; tempest learn, spamc
and quarantine run against it with --db mysql:..."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import TEMPEST, stand_in_library
from test_spam_commands import corpus_msg, lr_line, run

MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"


def built_with_mariadb():
    r = subprocess.run([TEMPEST, "learn", "--ham", "--db", "mysql:socket=/nonexistent"],
                       input="x", capture_output=True, text=True)
    return "not built" not in r.stderr


def test_client_library_loaded_when_used(tmp_path):
    """Connector/C is loaded with dlopen() when a mysql: store is opened,
    so no process maps it unless it uses one: tempest itself does not
    need it to start, and a libmariadb.so.3 without its functions (found
    first through LD_LIBRARY_PATH) makes opening the store fail with an
    error naming the library and the function, while SQLite stores work."""
    if not built_with_mariadb():
        pytest.skip("tempest built without MariaDB Connector/C (libmariadb-dev)")
    needed = subprocess.run(["readelf", "-d", TEMPEST], capture_output=True, text=True)
    assert needed.returncode == 0 and "NEEDED" in needed.stdout, needed.stderr
    assert "libmariadb" not in needed.stdout, needed.stdout
    lib = stand_in_library(tmp_path, "libmariadb.so.3")
    env = {"LD_LIBRARY_PATH": str(lib), "TEMPEST_CONFIG_DIR": str(tmp_path / "none")}
    r = run("learn", "--ham", "--db", "mysql:socket=/nonexistent", stdin="x", env=env)
    assert r.returncode != 0
    assert "the MariaDB client library: libmariadb.so.3 lacks mysql_init" in r.stderr, r.stderr
    r = run("spamc", "--db", str(tmp_path / "s.db"), stdin=corpus_msg(True, 1), env=env)
    assert r.returncode == 0 and "X-Spam-Status" in r.stdout, r.stdout + r.stderr


@pytest.fixture
def mariadb():
    if not os.path.exists(MARIADBD) or not os.path.exists(INSTALL_DB):
        pytest.skip("mariadbd not installed (Debian package mariadb-server)")
    if not built_with_mariadb():
        pytest.skip("tempest built without MariaDB Connector/C (libmariadb-dev)")
    d = tempfile.mkdtemp(prefix="tempest-maria-")
    os.chmod(d, 0o755)  # the filter service (mail owner) uses the socket
    data, sock = os.path.join(d, "data"), os.path.join(d, "sock")
    user = ["--user=root"] if os.getuid() == 0 else []
    subprocess.run([INSTALL_DB, "--no-defaults", "--datadir=" + data,
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db"] + user, check=True, capture_output=True)
    proc = subprocess.Popen([MARIADBD, "--no-defaults", "--datadir=" + data,
                             "--socket=" + sock, "--skip-networking",
                             "--pid-file=" + os.path.join(d, "pid"),
                             "--log-error=" + os.path.join(d, "err.log")] + user,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    client = shutil.which("mariadb") or shutil.which("mysql")
    subprocess.run([client, "--no-defaults", "-S", sock, "-uroot", "-e",
                    "CREATE DATABASE tempest; CREATE DATABASE tstore"],
                   check=True, capture_output=True)
    yield "mysql:socket=%s;user=root;database=tempest" % sock
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(d, ignore_errors=True)


def test_learn_classify_quarantine_on_mariadb(mariadb, tmp_path):
    cfg = tmp_path / "etc"
    cfg.mkdir()
    (cfg / "main.cf").write_text("bayes_min_spam_num = 5\nbayes_min_ham_num = 5\n")
    spam, ham = tmp_path / "spam", tmp_path / "ham"
    spam.mkdir()
    ham.mkdir()
    for i in range(8):
        (spam / str(i)).write_text(corpus_msg(True, i))
        (ham / str(i)).write_text(corpus_msg(False, i))
    r = run("learn", "--spam", "--db", mariadb, str(spam), cfg=str(cfg))
    assert r.returncode == 0, r.stderr
    r = run("learn", "--ham", "--db", mariadb, str(ham), cfg=str(cfg))
    assert "Database: 8 spam, 8 ham" in r.stdout, r.stdout + r.stderr
    r = run("learn", "--spam", "--db", mariadb, str(spam), cfg=str(cfg))
    assert "8 already known" in r.stdout
    r = run("spamc", "--db", mariadb, stdin=corpus_msg(True, 50), cfg=str(cfg))
    assert "BAYES_99" in r.stdout, r.stdout + r.stderr
    r = run("spamc", "--db", mariadb, stdin=corpus_msg(False, 50), cfg=str(cfg))
    assert "BAYES_00" in r.stdout, r.stdout + r.stderr
    # the logistic regression's samples and weights live there too
    p_ham = lr_line(r.stdout)
    p_spam = lr_line(run("spamc", "--db", mariadb, stdin=corpus_msg(True, 50),
                         cfg=str(cfg)).stdout)
    assert p_ham is not None and p_spam is not None and p_ham < 0.5 < p_spam
    r = run("learn", "--forget", "--db", mariadb, str(spam), cfg=str(cfg))
    assert "Forgot 8 message(s)" in r.stdout
    assert "Database: 0 spam, 8 ham" in r.stdout
    r = run("spamc", "--db", mariadb, stdin=corpus_msg(True, 50), cfg=str(cfg))
    assert lr_line(r.stdout) is None, r.stdout

    # quarantine and per-recipient levels in the same database
    assert run("quarantine", "--db", mariadb, "list", cfg=str(cfg)).stdout == ""
    r = run("quarantine", "--db", mariadb, "levels", "a@example.test", "1", "4.5", "9",
            "15", cfg=str(cfg))
    assert r.returncode == 0, r.stderr
    r = run("quarantine", "--db", mariadb, "levels", "a@example.test", cfg=str(cfg))
    assert "tag=1 spam=4.5 quarantine=9 reject=15 (per recipient)" in r.stdout


def test_store_unit_checks_on_mariadb(mariadb):
    # the store's C unit test (Bayes, seen, quarantine with a binary
    # message, expiry, levels) against the MariaDB driver
    exe = os.path.join(os.path.dirname(TEMPEST), "src", "lib-store", "test-store")
    if not os.path.exists(exe):
        pytest.skip("build/src/lib-store/test-store not built")
    spec = mariadb.replace("database=tempest", "database=tstore")
    r = subprocess.run([exe], capture_output=True, text=True,
                       env=dict(os.environ, TEMPEST_STORE_SPEC=spec))
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0 failed" in r.stdout


def test_concurrent_learning_on_mariadb(mariadb, tmp_path):
    """Two `tempest learn` runs and auto-learning at once on one shared
    MariaDB database (several nodes learning): every message is counted
    once, no run fails (InnoDB deadlocks between overlapping token sets
    are retried)."""
    import random
    cfg = tmp_path / "etc"
    cfg.mkdir()
    (cfg / "main.cf").write_text("bayes_auto_learn_threshold_nonspam = 100\n")
    rnd = random.Random(11)
    dirs = []
    for d in ("a", "b"):
        p = tmp_path / d
        p.mkdir()
        for i in range(300):
            # shared words (the same tokens updated by both runs) and
            # words of their own
            words = " ".join(["w%d" % rnd.randrange(3000) for _ in range(150)] +
                             ["u%x" % rnd.getrandbits(40) for _ in range(50)])
            (p / ("%03d" % i)).write_text(corpus_msg(d == "a", 1000 * (d == "b") + i) +
                                          words + "\n")
        dirs.append(p)
    env = dict(os.environ)
    env.pop("TEMPEST_CONFIG_DIR", None)
    procs = [subprocess.Popen([TEMPEST, "-c", str(cfg), "learn", kind, "--db", mariadb,
                               str(p)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env)
             for kind, p in (("--spam", dirs[0]), ("--ham", dirs[1]))]
    auto = 0
    while any(p.poll() is None for p in procs) and auto < 40:
        r = run("spamc", "--autolearn", "--db", mariadb,
                stdin=corpus_msg(False, 5000 + auto) + "w1 w2 w3\n", cfg=str(cfg))
        assert r.returncode in (0, 1) and "warning" not in r.stderr, r.stderr
        auto += 1
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0 and "warning" not in err, err[-2000:]
        assert "Learned tokens from 300 message(s)" in out, out
    r = run("learn", "--expire", "--db", mariadb, cfg=str(cfg))
    assert "Database: 300 spam, %d ham" % (300 + auto) in r.stdout, (r.stdout, auto)


def mariadb_rows(mariadb, sql):
    """The rows of a query on the test's database, as tuples of strings."""
    sock = mariadb.split("socket=")[1].split(";")[0]
    client = shutil.which("mariadb") or shutil.which("mysql")
    r = subprocess.run([client, "--no-defaults", "-N", "-B", "-S", sock, "-uroot",
                        "tempest", "-e", sql], check=True, capture_output=True, text=True)
    return [tuple(line.split("\t")) for line in r.stdout.splitlines()]


def test_concurrent_learners_sum_on_mariadb(mariadb, tmp_path):
    """Two learn runs at once over disjoint sets into one MariaDB store
    (their batches update the same token and totals rows; InnoDB
    deadlocks are retried): the totals, a token both updated, the
    learned-message marks and the LR samples are the sums of the two."""
    from test_spam_commands import fnv1a_signed, learn_disjoint_at_once
    cfg = tmp_path / "etc"
    cfg.mkdir()
    (cfg / "main.cf").write_text("")
    n = 1100
    for rc, out, err in learn_disjoint_at_once(tmp_path, mariadb, str(cfg), n):
        assert rc == 0 and "Learned tokens from %d message(s)" % n in out, out + err
        assert "warning" not in err, err
    assert mariadb_rows(mariadb, "SELECT nspam, nham FROM bayes_total WHERE user = ''") \
        == [(str(2 * n), "0")]
    assert mariadb_rows(mariadb, "SELECT spam, ham FROM bayes_token WHERE user = '' AND "
                        "token = %d" % fnv1a_signed("sharedword")) == [(str(2 * n), "0")]
    assert mariadb_rows(mariadb, "SELECT count(*) FROM bayes_seen") == [(str(2 * n),)]
    assert mariadb_rows(mariadb, "SELECT count(*) FROM lr_sample") == [(str(2 * n),)]
    assert mariadb_rows(mariadb, "SELECT nspam, changes FROM lr_model") == [(str(2 * n), "0")]


def test_concurrent_learners_same_mail_on_mariadb(mariadb, tmp_path):
    """Two learn runs at once over the same messages on MariaDB: each is
    counted once.  (Both read a message's mark without a lock, neither
    found it, and both learned it: nspam and every token counted twice,
    2,200 for 1,100 messages.  The mark is now written first as the
    change from what was read, an INSERT, UPDATE or DELETE that waits
    for the other's uncommitted one and then fails as a conflict, so
    the transaction is done again and finds the message known.)"""
    from test_spam_commands import fnv1a_signed, learn_disjoint_at_once, learned_counts
    cfg = tmp_path / "etc"
    cfg.mkdir()
    (cfg / "main.cf").write_text("")
    n = 1100
    runs = learn_disjoint_at_once(tmp_path, mariadb, str(cfg), n, same=True)
    for rc, out, err in runs:
        assert rc == 0 and "warning" not in err, out + err
    counts = [learned_counts(out) for _, out, _ in runs]
    assert sum(c[0] for c in counts) == n and sum(c[1] for c in counts) == n, counts
    assert mariadb_rows(mariadb, "SELECT nspam FROM bayes_total") == [(str(n),)]
    assert mariadb_rows(mariadb, "SELECT spam FROM bayes_token WHERE token = %d"
                        % fnv1a_signed("sharedword")) == [(str(n),)]
    assert mariadb_rows(mariadb, "SELECT count(*) FROM lr_sample") == [(str(n),)]


def test_quarantine_learn_ham_busy_on_mariadb(mariadb, tmp_path):
    """`quarantine learn-ham` while another session holds the row lock
    of the Bayes totals: it fails within seconds, saying the store is
    busy (its session's innodb_lock_wait_timeout is shortened; InnoDB's
    default is 50 s, and each of 8 attempts waited it), and the message
    stays quarantined."""
    cfg = tmp_path / "etc"
    cfg.mkdir()
    (cfg / "main.cf").write_text("")
    assert run("quarantine", "--db", mariadb, "list", cfg=str(cfg)).returncode == 0
    sock = mariadb.split("socket=")[1].split(";")[0]
    client = shutil.which("mariadb") or shutil.which("mysql")
    subprocess.run([client, "--no-defaults", "-S", sock, "-uroot", "tempest", "-e",
                    "INSERT INTO quarantine (id, created, sender, recipients, subject,"
                    " score, tests, message) VALUES ('q1', UNIX_TIMESTAMP(), 'a@b', "
                    "'demo@example.test\\n', 's', 20, 'X=20', "
                    "'Subject: hi\\n\\nhello there my friend\\n'); "
                    "INSERT INTO bayes_total VALUES ('', 0, 0)"],
                   check=True, capture_output=True)
    holder = subprocess.Popen([client, "--no-defaults", "-n", "-S", sock, "-uroot", "tempest",
                               "-e", "START TRANSACTION; UPDATE bayes_total SET nham = nham "
                               "WHERE user = ''; SELECT 'locked'; SELECT SLEEP(40)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        holder.stdout.readline()
        r = run("quarantine", "--db", mariadb, "learn-ham", "q1", cfg=str(cfg))
        # it gave up while the other session still held the row (for 40 s)
        still_held = holder.poll() is None
    finally:
        holder.kill()
        holder.wait()
    assert r.returncode == 2, r.stderr
    assert "q1: store busy (another process is writing to it), try again" in r.stderr, \
        r.stderr
    assert still_held
    assert run("quarantine", "--db", mariadb, "list", cfg=str(cfg)).stdout.count("q1") == 1


def test_copy_sqlite_model_to_mariadb(mariadb, tmp_path):
    """A site moving from the embedded store to a shared one: `learn
    --copy-from sqlite-file --db mysql:...` carries the whole model over
    and MariaDB then scores every message as the SQLite file did; with
    --all-users and `quarantine copy-from` the whole store moves (every
    user's model, quarantined messages with their bytes, levels)."""
    from test_spam_commands import lr_msg, model_lines, write_corpus
    cfg = tmp_path / "etc"
    cfg.mkdir()
    (cfg / "main.cf").write_text("bayes_min_spam_num = 5\nbayes_min_ham_num = 5\n")
    src = str(tmp_path / "src.db")
    spamdir, hamdir = write_corpus(tmp_path, 40, lr_msg)
    for kind, d in (("--spam", spamdir), ("--ham", hamdir)):
        assert run("learn", kind, "--db", src, str(d), cfg=str(cfg)).returncode == 0
    r = run("learn", "--copy-from", src, "--db", mariadb, "--user", "alice@example.test",
            cfg=str(cfg))
    assert r.returncode == 1 and "nothing to copy" in r.stderr, r.stderr  # no alice there
    r = run("learn", "--copy-from", src, "--db", mariadb, cfg=str(cfg))
    assert r.returncode == 0, r.stderr
    assert "Database: 40 spam, 40 ham" in r.stdout, r.stdout
    for i in range(500, 506):
        for spam in (True, False):
            one = run("spamc", "--db", src, stdin=lr_msg(spam, i), cfg=str(cfg)).stdout
            two = run("spamc", "--db", mariadb, stdin=lr_msg(spam, i), cfg=str(cfg)).stdout
            assert model_lines(one) == model_lines(two), (one, two)
            assert len(model_lines(one)) == 2
    r = run("learn", "--forget", "--db", mariadb, str(hamdir), cfg=str(cfg))
    assert "Forgot 40 message(s)" in r.stdout, r.stdout + r.stderr
    # the whole store (every user's model, the quarantine, the levels)
    # into another database of the same server
    from test_spam_commands import check_moved, fill_store
    whole = str(tmp_path / "whole.db")
    (tmp_path / "w").mkdir()
    users = fill_store(whole, tmp_path / "w", str(cfg))
    other = mariadb.replace("database=tempest", "database=tstore")
    r = run("learn", "--copy-from", whole, "--all-users", "--db", other, cfg=str(cfg))
    assert r.returncode == 0 and "Copied the models of 3 of 3 user(s)" in r.stdout, \
        r.stdout + r.stderr
    r = run("quarantine", "--db", other, "copy-from", whole, cfg=str(cfg))
    assert r.stdout.startswith("Copied 2 quarantined message(s) (0 already here) and the "
                               "levels of 2 recipient(s)"), r.stdout + r.stderr
    check_moved(whole, other, users, str(cfg))


def test_quarantine_table_of_an_earlier_version_gains_envelope(mariadb, tmp_path):
    """A quarantine table made before the envelope column: the next open
    adds the column (nullable) and the old row still shows; a second
    open leaves it alone."""
    sock = mariadb.split("socket=")[1].split(";")[0]
    client = shutil.which("mariadb") or shutil.which("mysql")

    def sql(q):
        return subprocess.run([client, "--no-defaults", "-S", sock, "-uroot", "-N",
                               "tempest", "-e", q], check=True, capture_output=True,
                              text=True).stdout
    sql("CREATE TABLE quarantine (id VARCHAR(64) PRIMARY KEY,"
        " created BIGINT NOT NULL, sender VARBINARY(1024) NOT NULL,"
        " recipients MEDIUMBLOB NOT NULL, subject BLOB NOT NULL, score DOUBLE NOT NULL,"
        " tests BLOB NOT NULL, message LONGBLOB NOT NULL, INDEX (created));"
        "INSERT INTO quarantine VALUES ('old1', 1, 's@x', 'a@y\\n', 'old', 30, 'X=1',"
        " 'Subject: old\\n\\nold row\\n')")
    cfg = tmp_path / "etc"
    cfg.mkdir()
    (cfg / "main.cf").write_text("")
    for _ in range(2):
        r = run("quarantine", "--db", mariadb, "show", "old1", cfg=str(cfg))
        assert r.returncode == 0 and "old row" in r.stdout, r.stdout + r.stderr
    assert sql("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE"
               " TABLE_SCHEMA = 'tempest' AND TABLE_NAME = 'quarantine'"
               " AND COLUMN_NAME = 'envelope'").strip() == "envelope"


def test_long_message_ids_stay_apart_on_mariadb(mariadb, tmp_path):
    """Two messages whose Message-IDs share their first 300 bytes (and
    whose bodies are the same) are two learned messages: learning both
    again finds both known.  (MariaDB's key index keeps the first 255
    bytes, so the second one's mark replaced the first's and every run
    learned them again; keys are now at most 255 bytes, a long
    Message-ID shortened with its SHA-256.)"""
    from test_spam_commands import learned_counts
    cfg = tmp_path / "etc"
    cfg.mkdir()
    (cfg / "main.cf").write_text("")
    d = tmp_path / "long"
    d.mkdir()
    for i in range(2):
        (d / str(i)).write_text("From: a@b.example\nSubject: long id\n"
                                "Message-ID: <%s%d@long.example>\n\n"
                                "the same body of words\n" % ("x" * 300, i))
    for known in (0, 2):
        r = run("learn", "--spam", "--db", mariadb, str(d), cfg=str(cfg))
        assert r.returncode == 0, r.stdout + r.stderr
        assert learned_counts(r.stdout) == (2 - known, known), r.stdout
    assert mariadb_rows(mariadb, "SELECT nspam FROM bayes_total") == [("2",)]
    assert mariadb_rows(mariadb, "SELECT count(*), max(length(msgkey)) FROM bayes_seen") \
        == [("2", "255")]
