"""PCRE2 without JIT (TEMPEST_RULES_NO_JIT=1, for tests): a rule with
catastrophic backtracking stops at the match limit on each text, and a
message that makes it reach the limit again and again stops at the
per-message budget: the rules after it are not run, with a warning; the
same output as with the JIT."""
from test_spam_commands import run

A30 = "a" * 30 + "!"


def test_regex_budget_without_jit(tmp_path):
    rules, msgs = tmp_path / "r.cf", tmp_path / "msgs"
    msgs.mkdir()
    rules.write_text("body R_FIRST /cheap pills/\nscore R_FIRST 1\n"
                     "body R_CAT /(a|aa)+$/\nscore R_CAT 5\n"
                     "body R_LATE /cheap pills/\nscore R_LATE 2\n")
    (msgs / "1").write_text("From: x@example.org\nSubject: hi\n\ncheap pills\n" +
                            "".join("\n" + A30 + "\n" for _ in range(2000)))
    (msgs / "2").write_text("From: x@example.org\nSubject: hi\n\ncheap pills\n\n" + A30 + "\n")
    out = {}
    for nojit in ("1", "0"):
        r = run("spamc", "--batch", "--tests", "--no-bayes", "--rules", str(rules),
                "--rules-cache", "", str(msgs / "1"), str(msgs / "2"),
                env={"TEMPEST_CONFIG_DIR": str(tmp_path / "none"),
                     "TEMPEST_RULES_NO_JIT": nojit})
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        # the long one: R_CAT stopped at the limit 50 times, R_LATE not run
        assert lines[0].endswith("tests=R_FIRST=1"), r.stdout
        # the short one: R_CAT stopped at the limit once, no hit, the rest ran
        assert lines[1].endswith("tests=R_FIRST=1,R_LATE=2"), r.stdout
        assert r.stderr.count("regular-expression budget spent (50 matches") == 1, r.stderr
        assert "1 rules not run" in r.stderr, r.stderr
        out[nojit] = r.stdout
    assert out["1"] == out["0"]
