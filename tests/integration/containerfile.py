#!/usr/bin/env python3
"""tests/integration/containerfile.py FILE — a Containerfile (Dockerfile) read the way
BuildKit reads it, printed as JSON for the tests: its stages (name, base image, the packages
each `apt-get install` line names, the stages its COPY --from lines take from, the
directories of `DESTDIR=... cmake --install` and `COPY --from=STAGE SRC DST`), and the last
stage's USER, EXPOSE, STOPSIGNAL, ENTRYPOINT and CMD. Instructions are case-insensitive,
a backslash at the end of a line continues it, '#' lines are comments; an unknown
instruction is an error (exit 2), as it is for docker build.
"""
import json
import re
import shlex
import sys

KNOWN = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
         "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "MAINTAINER"}


def instructions(text):
    buf, out = "", []
    for line in text.splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):  # comments inside a continued instruction
            continue
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    if buf:
        raise SyntaxError("the file ends inside a continued line")
    return out


def exec_form(rest):
    rest = rest.strip()
    if rest.startswith("["):
        return json.loads(rest)
    return ["/bin/sh", "-c", rest]


def apt_packages(cmd):
    pkgs = []
    for part in re.split(r"&&|;|\|\|", cmd):
        words = shlex.split(part)
        if "apt-get" in words and "install" in words:
            after = words[words.index("install") + 1:]
            pkgs += [w for w in after if not w.startswith("-")]
    return pkgs


def main():
    stages, last = [], None
    for word, rest in instructions(open(sys.argv[1]).read()):
        if word not in KNOWN:
            print(f"{sys.argv[1]}: unknown instruction {word}", file=sys.stderr)
            return 2
        if word == "FROM":
            m = re.match(r"^(\S+)(?:\s+AS\s+(\S+))?$", rest, re.I)
            if not m:
                print(f"{sys.argv[1]}: FROM {rest}: not IMAGE [AS NAME]", file=sys.stderr)
                return 2
            last = {"from": m.group(1), "name": m.group(2), "packages": [], "copy_from": [],
                    "destdir": [], "user": None, "expose": [], "stopsignal": None,
                    "entrypoint": None, "cmd": None}
            stages.append(last)
            continue
        if last is None:
            print(f"{sys.argv[1]}: {word} before FROM", file=sys.stderr)
            return 2
        if word == "RUN":
            last["packages"] += apt_packages(rest)
            last["destdir"] += re.findall(r"DESTDIR=(\S+)\s+cmake --install", rest)
        elif word == "COPY":
            m = re.match(r"^--from=(\S+)\s+(\S+)\s+(\S+)$", rest)
            if m:
                last["copy_from"].append({"stage": m.group(1), "src": m.group(2), "dst": m.group(3)})
        elif word == "USER":
            last["user"] = rest
        elif word == "EXPOSE":
            last["expose"] += rest.split()
        elif word == "STOPSIGNAL":
            last["stopsignal"] = rest
        elif word == "ENTRYPOINT":
            last["entrypoint"] = exec_form(rest)
        elif word == "CMD":
            last["cmd"] = exec_form(rest)
    json.dump({"stages": stages}, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
