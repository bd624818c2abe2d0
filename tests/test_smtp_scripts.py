"""Conversation scripts in tests/smtp-scripts/: each client line and the
reply it must get, replayed byte for byte against a running smtpd."""
import glob
import os
import re

import pytest

from smtputil import Raw

SCRIPTS = sorted(glob.glob(os.path.join(os.path.dirname(__file__),
                                        "smtp-scripts", "*.txt")))


@pytest.mark.parametrize("path", SCRIPTS, ids=os.path.basename)
def test_script(instance, path):
    r = Raw(instance.smtp_port)
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            kind, text = line[0], line[2:]
            if kind == ">":
                r.send(text + "\r\n")
            elif kind == "=":
                r.send(text.encode().decode("unicode_escape").encode("latin-1"))
            elif kind == "<":
                code, lines = r.reply()
                assert re.fullmatch(text, lines[-1]), f"{path}:{n}: {lines}"
    r.close()
