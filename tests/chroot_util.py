"""Helpers of the chroot tests (test_mta_chroot, test_mta_tables)."""
import os
import re


def chroot_services(text, commands):
    """master.cf text with the chroot column (5th) set to y for the
    services that run the given commands."""
    out = []
    for line in text.splitlines():
        f = line.split()
        # service type private unpriv chroot wakeup maxproc command
        if len(f) >= 8 and not line[0].isspace() and f[7] in commands:
            line = re.sub(r"^(\S+\s+\S+\s+\S+\s+\S+\s+)n(\s)", r"\1y\2",
                          line)
        out.append(line)
    return "\n".join(out) + "\n"


def process_roots(inst, role):
    """The root directories of the running processes of one role."""
    r = set()
    for pid in inst.pids(role):
        try:
            r.add(os.readlink(f"/proc/{pid}/root"))
        except OSError:
            pass
    return r
