"""Print the command a systemd unit of deploy/systemd/ runs, as it would run from this tree.

    python deploy/smoke/unit_command.py masterbus-worker@.service [--instance QUEUES]

``bin/prod-smoke`` starts its processes with the units' own ``ExecStart=`` lines, so the
commands systemd runs on a host are the ones it checks: ``/srv/masterbus`` becomes this tree,
``%I`` the instance as given (``ingest,voltmetrics``), ``%i`` the instance escaped as systemd
names the unit (``ingest\x2cvoltmetrics``, as ``systemd-escape`` does), ``%H`` this host's
name, ``%%`` a ``%``. The arguments are printed NUL-separated (read them with
``mapfile -d ''``).
"""

from __future__ import annotations

import argparse
import shlex
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "deploy" / "systemd"
INSTALL_DIR = "/srv/masterbus"


def exec_start(unit: Path) -> str:
    found = [
        line.split("=", 1)[1].strip()
        for line in unit.read_text().splitlines()
        if line.startswith("ExecStart=")
    ]
    if len(found) != 1:
        raise SystemExit(f"{unit.name}: {len(found)} ExecStart= lines, expected one")
    return found[0]


def escape(name: str) -> str:
    """A string as a unit name's instance: ``systemd-escape NAME`` (without --path)."""
    out = []
    for i, ch in enumerate(name):
        if ch == "/":
            out.append("-")
        elif (ch.isascii() and (ch.isalnum() or ch in ":_.")) and not (i == 0 and ch == "."):
            out.append(ch)
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode())
    return "".join(out)


def specifiers(word: str, instance: str) -> str:
    out, i = [], 0
    while i < len(word):
        if word[i] == "%" and i + 1 < len(word):
            spec = word[i + 1]
            if spec == "%":
                out.append("%")
            elif spec == "i":
                out.append(escape(instance))
            elif spec == "I":
                out.append(instance)
            elif spec == "H":
                out.append(socket.gethostname())
            else:
                raise SystemExit(f"unsupported specifier %{spec} in {word!r}")
            i += 2
        else:
            out.append(word[i])
            i += 1
    return "".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("unit")
    parser.add_argument("--instance", default="")
    args = parser.parse_args()
    argv = [
        specifiers(word, args.instance).replace(INSTALL_DIR, str(ROOT))
        for word in shlex.split(exec_start(SYSTEMD / args.unit))
    ]
    sys.stdout.write("\0".join(argv) + "\0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
