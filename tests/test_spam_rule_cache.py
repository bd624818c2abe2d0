"""The compiled-rule cache of `tempest spamc`: the first run parses the
rules and writes the cache, the next runs load it (same results); a
changed rule file makes it stale (rebuilt, new scores seen); a corrupt or
truncated cache file is rejected with a warning and rebuilt."""
import os

from test_spam_commands import run

MSG = """From: "Winner" <12345678@lucky.example>
To: demo@example.test
Subject: FREE offer

Buy cheap pills now at http://shop.example/pills
"""


def batch(rules, cache, msgs):
    r = run("spamc", "--batch", "--no-bayes", "--rules", str(rules),
            "--rules-cache", str(cache), str(msgs),
            env={"TEMPEST_CONFIG_DIR": str(rules) + "-none"})
    assert r.returncode == 0, r.stderr
    return r.stdout.split()[1], r.stderr


def test_rule_cache_reuse_stale_corrupt(tmp_path):
    rules, cache, msgs = tmp_path / "rules", tmp_path / "cache", tmp_path / "msgs"
    for d in (rules, cache, msgs):
        d.mkdir()
    (msgs / "1").write_text(MSG)
    cf = rules / "10_local.cf"
    cf.write_text("body T_PILLS /cheap pills/i\nscore T_PILLS 2.5\n"
                  "header T_FREE Subject =~ /^FREE/\nscore T_FREE 1\n"
                  "uri T_SHOP /shop\\.example/\nscore T_SHOP 0.5\n")

    score, err = batch(rules, cache, msgs)
    assert score == "4" and "rules parsed" in err, err
    files = os.listdir(cache)
    assert len(files) == 1 and files[0].startswith("spam-rules-"), files
    score, err = batch(rules, cache, msgs)
    assert score == "4" and "rules from the cache" in err, err

    # a changed rule file: stale, parsed again with the new score
    cf.write_text(cf.read_text().replace("score T_FREE 1", "score T_FREE 3"))
    score, err = batch(rules, cache, msgs)
    assert score == "6" and "rules parsed" in err, err
    score, err = batch(rules, cache, msgs)
    assert score == "6" and "rules from the cache" in err, err

    # a corrupt cache file: rejected (warning), rebuilt, same result
    path = cache / os.listdir(cache)[0]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x5a
    path.write_bytes(bytes(data))
    score, err = batch(rules, cache, msgs)
    assert score == "6" and "rules parsed" in err, err
    assert "checksum mismatch; rebuilding it" in err, err
    score, err = batch(rules, cache, msgs)
    assert "rules from the cache" in err, err
    # truncated, and garbage
    for junk in (path.read_bytes()[:100], b"not a cache at all, really" * 3):
        path.write_bytes(junk)
        score, err = batch(rules, cache, msgs)
        assert score == "6" and "rules parsed" in err and "rebuilding" in err, err

    # one-message spamc has its own cache file (no prefilter) and gives
    # the same score from it
    for _ in range(2):
        r = run("spamc", "--verdict", "--no-bayes", "--rules", str(rules),
                "--rules-cache", str(cache), stdin=MSG,
                env={"TEMPEST_CONFIG_DIR": str(rules) + "-none"})
        assert r.returncode == 0 and r.stdout.startswith("ham 6\n"), r.stdout + r.stderr
    assert len(os.listdir(cache)) == 2


def acl_grants_write(path, uid):
    """Give user uid rwx on path by a POSIX access ACL (the binary form
    of system.posix_acl_access: version 2, then tag, permissions, id per
    entry); False where the file system takes no ACLs."""
    import struct
    entries = [(0x01, 7, 0xffffffff),   # user::rwx
               (0x02, 7, uid),          # user:uid:rwx
               (0x04, 0, 0xffffffff),   # group::---
               (0x10, 7, 0xffffffff),   # mask::rwx
               (0x20, 0, 0xffffffff)]   # other::---
    blob = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)
    try:
        os.setxattr(path, "system.posix_acl_access", blob)
    except OSError:
        return False
    return True


def test_rule_cache_untrusted_directory(tmp_path):
    """A cache directory others may write is neither read nor written:
    the rules are parsed (same score) with one warning that says why; a
    cache file that is a symbolic link is not followed but replaced."""
    rules, cache, msgs = tmp_path / "rules", tmp_path / "cache", tmp_path / "msgs"
    for d in (rules, cache, msgs):
        d.mkdir()
    (msgs / "1").write_text(MSG)
    (msgs / "2").write_text(MSG)
    (rules / "10_local.cf").write_text("body T_PILLS /cheap pills/i\nscore T_PILLS 2.5\n")
    score, err = batch(rules, cache, msgs)
    assert score == "2.5" and "rules parsed" in err, err
    path = cache / os.listdir(cache)[0]
    os.chmod(cache, 0o775)
    score, err = batch(rules, cache, msgs)
    assert score == "2.5" and "rules parsed" in err, err
    assert err.count("writable by group or others") == 1, err
    assert "not used, the rules are parsed from source" in err, err
    assert os.listdir(cache) == [path.name]
    os.chmod(cache, 0o700)
    score, err = batch(rules, cache, msgs)
    assert score == "2.5" and "rules from the cache" in err, err
    # a POSIX ACL that lets another user write there: its mask is the
    # mode's group bits, so the directory is refused the same way
    if acl_grants_write(cache, 65534):
        score, err = batch(rules, cache, msgs)
        assert score == "2.5" and "rules parsed" in err, err
        assert err.count("writable by group or others") == 1, err
        os.removexattr(cache, "system.posix_acl_access")
        os.chmod(cache, 0o700)
        score, err = batch(rules, cache, msgs)
        assert "rules from the cache" in err, err
    # a link to a valid cache: rejected, then a real file in its place
    good = tmp_path / "good.cache"
    os.rename(path, good)
    os.symlink(good, path)
    score, err = batch(rules, cache, msgs)
    assert score == "2.5" and "a symbolic link; rebuilding it" in err, err
    assert not os.path.islink(path)
    score, err = batch(rules, cache, msgs)
    assert "rules from the cache" in err, err


def test_prefilter_without_vectorscan(tmp_path):
    """Vectorscan is loaded with dlopen() when a rule set is prefiltered:
    a libhs.so.5 without its functions (found first through
    LD_LIBRARY_PATH) leaves the batch without a prefilter, with a
    warning, and the same scores; the real library prefilters."""
    from conftest import stand_in_library
    lib = stand_in_library(tmp_path, "libhs.so.5")
    rules, msgs = tmp_path / "rules", tmp_path / "msgs"
    for d in (rules, msgs):
        d.mkdir()
    for i in range(3):
        (msgs / str(i)).write_text(MSG)
    (rules / "10_local.cf").write_text("body T_PILLS /cheap pills/i\nscore T_PILLS 2.5\n")

    def scan(env):
        r = run("spamc", "--batch", "--no-bayes", "--rules", str(rules),
                "--rules-cache", "", str(msgs),
                env=dict({"TEMPEST_CONFIG_DIR": str(rules) + "-none"}, **env))
        assert r.returncode == 0, r.stderr
        return r.stdout, r.stderr
    out, err = scan({})
    assert "scanner " in err and "1 rules prefiltered" in err, err
    out2, err2 = scan({"LD_LIBRARY_PATH": str(lib)})
    assert "Vectorscan: libhs.so.5 lacks hs_compile_lit_multi; no prefilter" in err2, err2
    assert "0 rules prefiltered" in err2, err2
    assert out2 == out and out.count(" 2.5 ") == 3, out
