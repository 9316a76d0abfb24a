#!/usr/bin/env python3
"""tests/integration/unit_syscalls.py UNIT STRACE... — which system calls of the strace logs
(strace -f -o FILE) a unit's SystemCallFilter= lines would refuse.

The filter is computed as systemd does: the first assignment makes it an allow list (no '~')
or a deny list ('~'); later ones add to or take from it; an empty one resets it. Groups
(@system-service, ...) are expanded with `systemd-analyze syscall-filter`. Prints each refused
call with the group that refuses it and exits 1 when there is one; 0 when none (or when the
unit has no filter).
"""
import re
import subprocess
import sys


def groups():
    out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True,
                         text=True, check=True).stdout
    table, cur = {}, None
    for line in out.splitlines():
        if re.match(r"^@[\w-]+$", line):
            cur = line
            table[cur] = []
        elif cur and line.startswith("    ") and not line.strip().startswith("#"):
            table[cur].append(line.strip())
    return table


def expand(table, names, seen=None):
    seen = set() if seen is None else seen
    calls = set()
    for name in names:
        if name.startswith("@"):
            if name in seen:
                continue
            seen.add(name)
            calls |= expand(table, table.get(name, []), seen)
        elif name:
            calls.add(name.split(":")[0])  # NAME:ERRNO
    return calls


def unit_filter(path, table):
    """(allow, calls): allow says whether calls is an allow list; None when there is none."""
    allow, calls = None, set()
    for line in open(path):
        m = re.match(r"^\s*SystemCallFilter=(.*)$", line)
        if not m:
            continue
        value = m.group(1).strip()
        if not value:
            allow, calls = None, set()
            continue
        deny = value.startswith("~")
        names = expand(table, value.lstrip("~").split())
        if allow is None:
            allow, calls = not deny, names
        elif allow != deny:  # same kind as the list: add
            calls |= names
        else:
            calls -= names
    return allow, calls


def used(paths):
    calls = set()
    for path in paths:
        for line in open(path, errors="replace"):
            m = re.match(r"^\d+\s+([a-z_0-9]+)\(", line)
            if m:
                calls.add(m.group(1))
    return calls


def main():
    table = groups()
    allow, calls = unit_filter(sys.argv[1], table)
    if allow is None:
        return 0
    seen = used(sys.argv[2:])
    refused = sorted(seen - calls) if allow else sorted(seen & calls)
    for call in refused:
        owners = [g for g in table if call in expand(table, [g])]
        print(f"{sys.argv[1]}: refuses {call} ({', '.join(owners[:3]) or 'in no group'})")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
