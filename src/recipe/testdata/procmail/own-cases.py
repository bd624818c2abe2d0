#!/usr/bin/python3
"""Writes Tempest's own differential cases (r*) into cases/public/.
Record them with the real procmail:  ./pmharness.py record --public --case r
(as root, with the unprivileged user pmtest, see README.md)."""
import json, os

HERE = os.path.dirname(os.path.abspath(__file__))
HDR = "MAILDIR=$HOME/Mail\nLOGFILE=$HOME/procmail.log\n"
STD = ["plain.eml", "spam.eml", "list.eml", "cc.eml", "daemon.eml", "folded.eml"]

CASES = [
 ("r01-H-B-flags", "H and B flags choose header or body for conditions", ["H", "B"], STD, """
:0 B
* urgent
body-urgent
:0 HB
* ^Subject:.*(minutes|offer)
hb-match
:0 H
* Lunch
header-lunch-never
"""),
 ("r02-B-only-body", "B conditions do not see the header", ["B"], ["plain.eml", "cc.eml"], """
:0 B
* ^Subject:
body-has-subject
:0 B
* Friday
friday
"""),
 ("r03-negated-size", "! with size conditions", ["!", "< size", "> size"], ["plain.eml", "cc.eml", "daemon.eml"], """
:0
* ! > 400
small
:0
* ! < 450
large
"""),
 ("r04-program-condition", "? command exit status decides, with the header on stdin", ["? command"], STD, """
:0
* ? grep -q Bob
grep-bob
:0
* ! ? grep -q -i bulk
not-bulk
"""),
 ("r05-weighted-scoring", "weighted scoring with w^x and $=", ["scoring", "$="], STD, """
:0
* 1^0 ^From:.*alice
* 2^0 ^Subject:.*hello
* -5^0 ^List-Id:
* 3^0 ^X-Spam-Status: Yes
score-$=
"""),
 ("r06-scoring-exponent", "scoring counts repeated matches with an exponent", ["scoring", "exponent"], ["plain.eml", "daemon.eml", "list.eml"], """
:0
* 1^1 ^[A-Z][a-z-]*:
* -9^0 ^Nothing-Here:
headers-$=
"""),
 ("r07-var-match", "VAR ?? regex on variables, H ?? and B ??", ["VAR ??", "B ??", "H ??"], STD, """
KIND=list
:0
* KIND ?? ^li
* B ?? (watches|body|offer|minutes|friday)
var-and-body
:0
* H ?? ^Subject:.*Minutes
h-minutes
"""),
 ("r08-match-operator", "\\/ sets MATCH, used in a folder name; from the body as well", ["\\/ MATCH"], STD, """
:0
* ^From:.*<\\/[a-z]+
* B ?? ^\\/[A-Z][a-z]+
from-$MATCH
"""),
 ("r09-pipe-wait", "| with w: success delivers, the program gets the whole message", ["|", "w"], ["plain.eml", "noeol.eml"], """
:0 w
| record all
"""),
 ("r10-pipe-head-body", "h and b flags on pipes", ["|", "h", "b", "c"], ["plain.eml", "cc.eml"], """
:0 hc
| record head
:0 bc
| record body
:0:
rest
"""),
 ("r11-W-failure", "W: a failing program is quiet and falls through", ["W", "w"], ["plain.eml"], """
:0 W
| fail 3
:0 w
| fail 4
:0:
fallthrough
"""),
 ("r12-filter-whole", "f filter on the whole message", ["f"], ["plain.eml", "list.eml"], """
:0 fw
| sed -e 's/^Subject: /Subject: [f] /' -e 's/Bob/Robert/g'
:0:
filtered
"""),
 ("r13-filter-failure", "a failing filter with w leaves the message unchanged", ["f", "w"], ["plain.eml"], """
:0 fw
| sh -c 'cat >/dev/null; echo broken; exit 1'
:0
unchanged
"""),
 ("r14-capture", "VAR=| command captures the output", ["VAR=|"], STD, """
:0 h
SUBJ=| sed -n 's/^Subject: *\\([A-Za-z]*\\).*/\\1/p'
:0
* SUBJ ?? .
subj-$SUBJ
"""),
 ("r15-forward-wait", "! with w and SENDMAILFLAGS changed", ["!", "w", "SENDMAILFLAGS"], ["plain.eml", "cc.eml"], """
SENDMAIL=$HOME/bin/sendmail-capture
SENDMAILFLAGS="-oi -f bob@example.net"
:0 w
* ^From:.*alice
! archive@example.com
:0
other
"""),
 ("r16-forward-var-addresses", "forward to addresses from a variable (split on spaces)", ["!", "$VAR split"], ["list.eml"], """
SENDMAIL=$HOME/bin/sendmail-capture
ADDRS="one@example.com two@example.com"
:0 c
! $ADDRS
:0 h
! "$ADDRS"
"""),
 ("r17-nested-blocks", "nested blocks with A, E and e inside", ["{ }", "nesting"], STD, """
:0
* ^From:.*example
{
  :0
  * ^Subject:.*hello
  {
    :0 c
    hello-in-block
    :0
    hello-final
  }
  :0 E
  * ^Cc:
  cc-in-block
  :0 E
  other-in-block
}
:0
outside
"""),
 ("r18-block-clone", "c on a block: a clone runs the block and goes on", ["c", "{ }", "clone"], ["plain.eml", "spam.eml"], """
:0 c
{
  :0
  * ^Subject:.*hello
  clone-hello
}
:0
after-block
"""),
 ("r19-includerc", "INCLUDERC runs another rcfile in place", ["INCLUDERC"], ["plain.eml", "spam.eml"], """
INCLUDERC=$HOME/inc.rc
:0
after-include
""", {"inc.rc": ":0\n* ^X-Spam-Status: Yes\nspam-from-include\nINCVAR=set\n"}),
 ("r20-switchrc", "SWITCHRC abandons the current rcfile", ["SWITCHRC"], ["plain.eml", "spam.eml"], """
:0
* ^X-Spam
{
  SWITCHRC=$HOME/switch.rc
}
:0
not-switched
""", {"switch.rc": "MAILDIR=$HOME/Mail\n:0\nswitched\n"}),
 ("r21-trap", "TRAP runs at the end with the message on stdin", ["TRAP"], ["plain.eml"], """
TRAP="cat > $HOME/trapped"
:0
folder
"""),
 ("r22-exitcode", "EXITCODE set to a number", ["EXITCODE"], ["plain.eml", "spam.eml"], """
:0
* ^X-Spam
{
  EXITCODE=67
}
:0
mbox
"""),
 ("r23-exitcode-empty", "EXITCODE empty: status of the last program", ["EXITCODE", "TRAP"], ["plain.eml"], """
EXITCODE=
TRAP="exit 5"
:0
mbox
"""),
 ("r24-global-lockfile", "LOCKFILE takes and releases a global lock", ["LOCKFILE"], ["plain.eml", "cc.eml"], """
LOCKFILE=$HOME/global.lock
:0
* ? test -f $HOME/global.lock
locked-seen
LOCKFILE
:0
* ? test -f $HOME/global.lock
still-locked
:0
unlocked
"""),
 ("r25-named-lockfile", "explicit local lockfile name and implicit lock for >>", ["lockfile"], ["plain.eml", "cc.eml"], """
:0 c: named.lock
named
:0 :
| cat >> $HOME/Mail/appended
"""),
 ("r26-maildir-mh-create", "Maildir and MH folders created on demand; LASTFOLDER", ["Maildir", "MH", "LASTFOLDER"], ["plain.eml", "noeol.eml", "cc.eml"], """
:0 c
new/md/
:0 c
new/mh/.
:0
* ^Subject:.*\\/[a-z]+$
* LASTFOLDER ?? mh/[0-9]
last-$MATCH
"""),
 ("r27-default-maildir", "DEFAULT set to a Maildir", ["DEFAULT", "Maildir"], ["plain.eml", "cc.eml"], """
DEFAULT=$HOME/Mail/inbox/
:0
* ^Cc:
cc
"""),
 ("r28-default-fallback", "unwritable DEFAULT falls back to ORGMAIL", ["DEFAULT", "ORGMAIL"], ["plain.eml"], """
DEFAULT=/nonexistent/dir/mbox
:0
* ^Subject: nothing-matches
never
"""),
 ("r29-folder-failure", "a failing folder delivery goes on with the next recipe", ["folder error"], ["plain.eml"], """
:0
/nonexistent/dir/mbox
:0
second
"""),
 ("r30-param-expansions", "${VAR:+x} ${VAR-x} ${VAR+x} ${VAR:-x}", ["expansion"], ["plain.eml"], """
SET=yes
EMPTY=
:0 c
${SET:+plus}-${EMPTY:-dash}
:0 c
${EMPTY-unset}x-${NOSUCH-unset}
:0
${EMPTY+has}-${NOSUCH+no}end
"""),
 ("r31-backquote-condition", "backquotes in assignments and $ conditions", ["backquotes", "$ condition"], STD, """
FROMADDR=`formail -xFrom: | sed 's/.*<//;s/>.*//'`
:0
* $ ^From:.*$\\FROMADDR
* FROMADDR ?? @
by-`echo $FROMADDR | tr '@.' '__'`
"""),
 ("r32-TO-variants", "^TO_ with Cc, Resent-To, X-Envelope-To", ["^TO_", "^TO"], STD + ["resent.eml"], """
:0
* ^TO_bob@example\\.net
to-bob
:0
* ^TOteam
team
"""),
 ("r33-D-body", "D makes body conditions case-sensitive too", ["D", "B"], ["folded.eml", "spam.eml"], """
:0 BD
* URGENT
cs-urgent
:0 B
* BUY now
ci-buy
"""),
 ("r34-E-e-chains", "E after a match, e after a failed program", ["E", "e", "W"], ["plain.eml", "spam.eml"], """
:0 W
* ^Subject:.*hello
| fail 2
:0 e
hello-failed
:0 E
not-hello
"""),
 ("r35-a-after-copy", "a after a successful carbon copy", ["a", "c"], ["plain.eml", "list.eml"], """
:0 c
* ^List-Id:
list-copy
:0 a
list-after
:0
rest
"""),
 ("r36-regex-quote", "$\\VAR disarms regex characters", ["$\\VAR"], ["plain.eml", "cc.eml"], """
DOT=example.org
:0
* $ ^From:.*$\\DOT
quoted
:0
other
"""),
 ("r37-old-style-count", "old-style :N counted conditions without *", [":N"], ["plain.eml", "cc.eml"], """
:2
^From:.*alice
^Subject:.*hello
old-style
:0
rest
"""),
 ("r38-anchors-words", "^^ text anchors, $ and word delimiters", ["^^", "$", "\\\\<"], STD, """
:0 c
* ^^From [a-z]+@example\\.(org|com)
envelope-start
:0 c
* ^Subject: [^ ]*$
one-word-subject
:0
* \\<(bob|robert)\\>
word-bob
:0
rest
"""),
 ("r39-folded-header", "continued header lines are matched as one", ["folding"], ["folded.eml", "plain.eml"], """
:0
* ^Subject:.*line.*URGENT
folded-urgent
:0
* ^Subject:.*not a header
never
:0
rest
"""),
 ("r40-host-mismatch", "HOST mismatch ends the rcfile (procmail exits quietly)", ["HOST"], ["plain.eml"], """
:0 c
copy
HOST=no.such.host.invalid
:0
never
"""),
 ("r41-unset-default", "unset variables and defaults", ["unset"], ["plain.eml"], """
FOO=bar
FOO
:0
${FOO:-was-unset}
"""),
 ("r42-noeol-mbox-pipe", "message without final newline to mbox and pipe", ["noeol"], ["noeol.eml", "noeol.eml"], """
:0 c
| record noeol
:0:
mbox
"""),
 ("r43-stdout-pipe", "a lone | writes the message to stdout", ["| stdout"], ["plain.eml"], """
:0 h
|
"""),
 ("r44-umask", "UMASK changes the mode of new folders", ["UMASK"], ["plain.eml", "cc.eml"], """
UMASK=022
:0 c
open-mbox
:0
open-md/
"""),
 ("r45-comments-blank", "comments and blank lines between conditions", ["comments"], ["plain.eml", "spam.eml"], """
:0   # a comment after the flags

# a comment line
* ^From:.*alice

* ^Subject:.*hello
commented
:0
rest
"""),
 ("r46-maildir-chdir", "MAILDIR change to a missing directory keeps the old one", ["MAILDIR"], ["plain.eml"], """
MAILDIR=$HOME/no/such/dir
:0
relative
"""),
 ("r47-dir-folder-links", "directory folder with an extra MH link", ["directory folder", "hardlinks"], ["plain.eml", "cc.eml"], """
:0
dirf mhlink/.
""", None, ["Mail/dirf"], ["Mail/dirf/msg.*"]),
 ("r48-spam-hooks", "X-Spam-Level stars and the $SPAMMAYBE example", ["spam headers"], ["spam.eml", "plain.eml"], """
SPAMMAYBE=spam-maybe
:0:
* ^X-Spam-Level: \\*\\*\\*\\*\\*
$SPAMMAYBE
:0:
* ^Subject: Broker Alert
$SPAMMAYBE
"""),
]


def main():
    for c in CASES:
        name, desc, feats, msgs, rc = c[:5]
        files = c[5] if len(c) > 5 and c[5] else {}
        mk = c[6] if len(c) > 6 and c[6] else []
        vol = c[7] if len(c) > 7 and c[7] else []
        d = os.path.join(HERE, "cases", "public", name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "procmailrc"), "w") as f:
            f.write(HDR + rc.lstrip("\n"))
        meta = {"desc": desc, "features": feats, "logs": ["procmail.log"],
                "messages": msgs, "mkdirs": ["Mail"] + mk}
        if vol:
            meta["volatile"] = vol
        with open(os.path.join(d, "case.json"), "w") as f:
            json.dump(meta, f, indent=1)
            f.write("\n")
        if files:
            for fn, text in files.items():
                os.makedirs(os.path.join(d, "home"), exist_ok=True)
                with open(os.path.join(d, "home", fn), "w") as f:
                    f.write(text)
    print(len(CASES), "cases")


if __name__ == "__main__":
    main()
