#!/usr/bin/python3
"""bench/spam/relays_compat.py - Tempest's X-Spam-Relays-* strings, its
EnvelopeFrom and its Date:/Received: difference next to SpamAssassin's
own, on the benchmark corpus.

    bench/spam/relays_compat.py [--tempest build/tempest] [--lines] [--show N]

Per message: the four strings (Trusted, Untrusted, Internal, External)
SpamAssassin's Mail::SpamAssassin::PerMsgStatus::extract_message_metadata
makes (Perl, Debian's spamassassin package, no network, no configuration)
and `tempest spamc --batch --relays` makes; then per message the
EnvelopeFrom each guesses (PerMsgStatus::get, "<none>" for none) and
the difference between Date: and the closest Received: time each
computes (HeaderEval's _check_date_diff, behind DATE_IN_PAST_* and
DATE_IN_FUTURE_*).  With --lines also per
distinct Received: line: each one alone as a message's only header,
where SpamAssassin's parse_received_line decides the same way (the same
relay, or the line skipped or unparseable: both give empty strings).
Needs the corpus fetched by run.py.
"""
import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "spam"))
import run  # noqa: E402

PERL = r'''
use strict; use warnings;
use Mail::SpamAssassin; use Mail::SpamAssassin::PerMsgStatus;
my $sa = Mail::SpamAssassin->new({local_tests_only=>1, userprefs_filename=>'/dev/null',
  site_rules_filename=>'/etc/spamassassin', rules_filename=>'/usr/share/spamassassin'});
$sa->init(0);
my ($he) = grep { ref($_) eq 'Mail::SpamAssassin::Plugin::HeaderEval' } @{$sa->{plugins}->{plugins}};
while (my $f = <STDIN>) { chomp $f;
  open(my $fh, '<', $f) or die "$f: $!"; my $t = do { local $/; <$fh> }; close $fh;
  my $msg = $sa->parse($t);
  my $pms = Mail::SpamAssassin::PerMsgStatus->new($sa, $msg);
  $pms->extract_message_metadata();
  my @v = map { my $v = $pms->get("X-Spam-Relays-$_");
    $v = '' unless defined $v; $v =~ s/\n//g; $v } qw(Trusted Untrusted Internal External);
  my @e = $pms->get("EnvelopeFrom");
  push @v, @e ? $e[0] : "<none>";
  $he->_check_date_diff($pms);
  push @v, $pms->{date_diff};
  print join("\t", $f, @v), "\n";
  $pms->finish; $msg->finish;
}
'''


def spamassassin(files):
    out = subprocess.run(["perl", "-e", PERL], input="\n".join(files) + "\n",
                         capture_output=True, text=True, check=True).stdout
    return {l.split("\t")[0]: l.split("\t")[1:] for l in out.splitlines()}


def tempest(binary, files):
    res = {}
    for i in range(0, len(files), 2000):
        out = subprocess.run([binary, "spamc", "--batch", "--no-bayes", "--relays"] +
                             files[i:i + 2000], capture_output=True,
                             env=dict(os.environ, TEMPEST_CONFIG_DIR="/nonexistent"),
                             check=True).stdout.decode("latin-1")
        for line in out.splitlines():
            if line.startswith("#R "):
                p = line[3:].split("\t")
                res[p[0]] = p[1:]
    return res


def compare(label, files, sa, tp, show, cols=slice(0, 4)):
    def get(d, f):
        v = d.get(f)
        return v[cols] if v is not None else None
    same = [f for f in files if get(sa, f) == get(tp, f)]
    print("%s: %d of %d the same (%.2f%%)" % (label, len(same), len(files),
                                             100.0 * len(same) / max(1, len(files))))
    for f in [f for f in files if get(sa, f) != get(tp, f)][:show]:
        print("  %s\n    SpamAssassin %s\n    Tempest      %s" % (f, get(sa, f), get(tp, f)))


def received_lines(files):
    seen = []
    known = set()
    for f in files:
        with open(f, "rb") as fh:
            head = fh.read().decode("latin-1").split("\n\n", 1)[0]
        cur = None
        for l in head.split("\n") + [""]:
            if l[:1] in (" ", "\t") and cur is not None:
                cur += "\n" + l
                continue
            if cur is not None and cur.lower().startswith("received:") and cur not in known:
                known.add(cur)
                seen.append(cur)
            cur = l
    return seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tempest", default=os.path.join(ROOT, "build", "tempest"))
    ap.add_argument("--lines", action="store_true")
    ap.add_argument("--show", type=int, default=5)
    a = ap.parse_args()
    data = run.fetch()
    files = sorted(os.path.join(data, g, f) for g in sorted(run.GROUPS)
                   for f in os.listdir(os.path.join(data, g)) if f.endswith(".txt"))
    sa, tp = spamassassin(files), tempest(a.tempest, files)
    compare("messages", files, sa, tp, a.show)
    compare("EnvelopeFrom", files, sa, tp, a.show, slice(4, 5))
    compare("Date: minus Received:", files, sa, tp, a.show, slice(5, 6))
    if a.lines:
        lines = received_lines(files)
        with tempfile.TemporaryDirectory() as d:
            one = []
            for i, l in enumerate(lines):
                p = os.path.join(d, "%06d" % i)
                with open(p, "wb") as fh:
                    fh.write((l + "\nSubject: x\n\nx\n").encode("latin-1"))
                one.append(p)
            compare("distinct Received: lines", one, spamassassin(one), tempest(a.tempest, one),
                    a.show)


if __name__ == "__main__":
    main()
