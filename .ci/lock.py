"""diff|write: compare the running environment's packages with constraints.txt, or rewrite constraints.txt from
them (.ci/latest). Run with the virtual environment's python."""

import datetime
import platform
import re
import sys
from importlib.metadata import distributions
from pathlib import Path

CONSTRAINTS = Path(__file__).resolve().parents[1] / "constraints.txt"
SKIP = {"sd-host", "pip", "setuptools", "wheel"}
HEADER = """\
# The versions the test suite was last green with (issue #28): the README's test command and .ci/run install
# with -c constraints.txt, so CI on a fresh machine gets exactly these. Users' installs (pyproject.toml) keep
# compatible ranges. Refresh: bash .ci/latest --lock (runs the suite on the newest releases, rewrites this
# file when green). torch stays the CPU wheel here; GPU users install their CUDA build first.
"""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed() -> dict[str, tuple[str, str]]:
    """canonical name -> (name as published, version without a local label such as +cpu)."""
    found = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name and canonical(name) not in SKIP:
            found[canonical(name)] = (name, dist.version.split("+")[0])
    return found


def pinned() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[canonical(name)] = version.strip()
    return pins


def diff() -> None:
    now, pins = installed(), pinned()
    changes = [f"  {name}: {pins.get(key, '-')} -> {version}" for key, (name, version) in sorted(now.items())
               if pins.get(key) != version]
    changes += [f"  {key}: {pins[key]} -> -" for key in sorted(pins) if key not in now]
    print("Versions that differ from constraints.txt:" if changes else "Same versions as constraints.txt.")
    print("\n".join(changes))


def write() -> None:
    stamp = f"# Generated {datetime.date.today()} with Python {platform.python_version()} on {platform.system()} " \
            f"{platform.machine()}.\n"
    lines = [f"{name}=={version}" for _, (name, version) in sorted(installed().items())]
    CONSTRAINTS.write_text(HEADER + stamp + "\n".join(lines) + "\n")
    print(f"wrote {CONSTRAINTS} ({len(lines)} packages)")


if __name__ == "__main__":
    {"diff": diff, "write": write}[sys.argv[1]]()
