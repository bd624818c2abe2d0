"""Success notices through aliases (RFC 3461 6.2.7.3, as Postfix): a
recipient with NOTIFY=SUCCESS that an alias expands into several gets an
"expanded" notice and its new recipients NOTIFY less SUCCESS (virtual
aliases in cleanup, aliases(5) in the local agent); a 1:1 alias passes
NOTIFY and the original recipient on, so the notice comes from the final
delivery; a list with an owner-NAME sender is "delivered" and its copies
start without DSN parameters.  doc/dsn.md."""
import os

from conftest import wait_for
from test_alias_basic import make_nobody, server  # noqa: F401 (a fixture)
from dsn_success_util import (add_users, by_final, notices, plain, read,
                              send_dsn, wait_notices, wait_removed)


def make(make_instance, virtual="", aliases=""):
    inst = make_instance("dsn-alias")
    add_users(inst, "bob", "carol")
    with open(os.path.join(inst.etc, "virtual"), "a") as f:
        f.write(virtual)
    with open(os.path.join(inst.etc, "aliases"), "a") as f:
        f.write(aliases)
    return inst.start()


def only_notice(inst, n_rcpt=1):
    got = wait_notices(inst, 1)
    assert len(got) == 1, inst.log()
    m, fields, rcpts, third = got[0]
    assert m["Subject"] == "Successful Mail Delivery Report"
    assert len(rcpts) == n_rcpt, rcpts
    return fields, by_final(rcpts)


def test_virtual_alias_to_two_users_is_expanded(make_instance):
    inst = make(make_instance,
                virtual="team@example.test bob@example.test, carol@example.test\n")
    qid = send_dsn(inst, [("team@example.test", ["NOTIFY=SUCCESS"])],
                   envid="team-1", subject="to the team")
    assert len(inst.wait_messages(1, user="bob")) == 1, inst.log()
    assert len(inst.wait_messages(1, user="carol")) == 1, inst.log()
    wait_removed(inst, qid)
    fields, f = only_notice(inst)
    assert fields["Original-Envelope-Id"] == "team-1"
    team = f["team@example.test"]
    assert team["Action"] == "expanded"
    assert team["Status"] == "2.0.0"
    assert plain(team["Original-Recipient"]) == "rfc822;team@example.test"
    # bob and carol lost SUCCESS: one notice in all
    assert inst.log().count(f"{qid}: sender delivery status") == 1


def test_virtual_alias_one_to_one_reports_final_delivery(make_instance):
    inst = make(make_instance, virtual="solo@example.test bob@example.test\n")
    qid = send_dsn(inst, [("solo@example.test", ["NOTIFY=SUCCESS"])])
    wait_removed(inst, qid)
    fields, f = only_notice(inst)
    bob = f["bob@example.test"]
    assert bob["Action"] == "delivered"
    assert plain(bob["Original-Recipient"]) == "rfc822;solo@example.test"


def test_local_alias_to_two_users_is_expanded(make_instance):
    inst = make(make_instance,
                aliases="team: bob@example.test, carol@example.test\n"
                        "team2: bob@example.test, nosuch@example.test\n")
    qid = send_dsn(inst, [("team@localhost",
                           ["NOTIFY=SUCCESS", "ORCPT=rfc822;list@example.org"])],
                   envid="local-team")
    assert len(inst.wait_messages(1, user="bob")) == 1, inst.log()
    assert len(inst.wait_messages(1, user="carol")) == 1, inst.log()
    wait_removed(inst, qid)
    fields, f = only_notice(inst)
    assert fields["Original-Envelope-Id"] == "local-team"
    team = f["team@localhost"]
    assert team["Action"] == "expanded"
    assert plain(team["Original-Recipient"]) == "rfc822;list@example.org"
    assert plain(team["Diagnostic-Code"]).startswith(
        "X-Tempest; alias expanded (forwarded as "), team["Diagnostic-Code"]
    # the forwarded copy carries ENVID and ORCPT, NOTIFY less SUCCESS:
    # a failure there is still reported, with the original recipient
    qid2 = send_dsn(inst, [("team2@localhost", ["NOTIFY=SUCCESS,FAILURE"])],
                    envid="local-team2")
    wait_removed(inst, qid2)
    assert wait_for(lambda: len(notices(inst)) >= 3, 30), inst.log()
    got = notices(inst)
    assert len(got) == 3, inst.log()
    by_env = {}
    for m, fl, rc, _ in got:
        by_env.setdefault(fl["Original-Envelope-Id"], []).append((m, rc))
    kinds = sorted(rc[0]["Action"] for _, rc in by_env["local-team2"])
    assert kinds == ["expanded", "failed"], by_env
    failed = [rc[0] for _, rc in by_env["local-team2"]
              if rc[0]["Action"] == "failed"][0]
    assert "nosuch@example.test" in failed["Final-Recipient"]
    assert plain(failed["Original-Recipient"]) == "rfc822;team2@localhost"
    # bob's two copies came without a notice of their own
    assert len(inst.wait_messages(2, user="bob")) == 2


def test_local_alias_one_to_one_reports_final_delivery(make_instance):
    inst = make(make_instance, aliases="one: bob@example.test\n")
    qid = send_dsn(inst, [("one@localhost", ["NOTIFY=SUCCESS"])],
                   envid="via-one", ret="FULL", subject="one to one")
    wait_removed(inst, qid)
    assert len(inst.wait_messages(1, user="bob")) == 1, inst.log()
    fields, f = only_notice(inst)
    # the notice comes from the delivery of the forwarded copy, which
    # kept ENVID, RET and the original recipient
    assert fields["Original-Envelope-Id"] == "via-one"
    bob = f["bob@example.test"]
    assert bob["Action"] == "delivered"
    assert plain(bob["Original-Recipient"]) == "rfc822;one@localhost"
    got = notices(inst)
    assert got[0][3].get_content_type() == "message/rfc822"
    # no notice from the expansion itself
    assert f"{qid}: sender delivery status" not in inst.log()


def test_list_with_owner_is_delivered(make_instance):
    inst = make(make_instance,
                aliases="biglist: bob@example.test, carol@example.test\n"
                        "owner-biglist: demo\n")
    qid = send_dsn(inst, [("biglist@localhost", ["NOTIFY=SUCCESS"])],
                   envid="listmail")
    assert len(inst.wait_messages(1, user="carol")) == 1, inst.log()
    wait_removed(inst, qid)
    fields, f = only_notice(inst)
    assert f["biglist@localhost"]["Action"] == "delivered"
    copy = read(inst.wait_messages(1, user="bob")[0])
    assert copy["Return-Path"] == "<owner-biglist@localhost>"


def forward_instance(make_instance, server, forward):  # noqa: F811
    """nobody@localhost with a .forward (needs root: test_alias_basic)."""
    inst, _, spool = make_nobody(make_instance, server, spool=True)
    add_users(inst, "bob")
    os.makedirs(os.path.join(inst.etc, "forward"))
    with open(os.path.join(inst.etc, "forward", "nobody"), "w") as f:
        f.write(forward)
    return inst.start(), spool


def test_forward_to_self_and_another_is_expanded(make_instance, server):  # noqa: F811
    inst, spool = forward_instance(make_instance, server,
                                   "bob@example.test\n\\nobody\n")
    qid = send_dsn(inst, [("nobody@localhost", ["NOTIFY=SUCCESS"])])
    assert len(inst.wait_messages(1, user="bob")) == 1, inst.log()
    assert wait_for(lambda: os.path.exists(os.path.join(spool, "nobody")), 20)
    wait_removed(inst, qid)
    fields, f = only_notice(inst)
    assert f["nobody@localhost"]["Action"] == "expanded"


def test_forward_to_one_address_reports_final_delivery(make_instance, server):  # noqa: F811
    inst, _ = forward_instance(make_instance, server, "bob@example.test\n")
    qid = send_dsn(inst, [("nobody@localhost", ["NOTIFY=SUCCESS"])],
                   envid="fwd-1")
    wait_removed(inst, qid)
    assert len(inst.wait_messages(1, user="bob")) == 1, inst.log()
    fields, f = only_notice(inst)
    assert fields["Original-Envelope-Id"] == "fwd-1"
    bob = f["bob@example.test"]
    assert bob["Action"] == "delivered"
    assert plain(bob["Original-Recipient"]) == "rfc822;nobody@localhost"
