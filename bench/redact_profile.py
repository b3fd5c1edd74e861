"""Print a MachineProfile (or, with --run, a run file) with identifying fields redacted: UUIDs, serials,
hostname, node name. Used before a recorded profile is committed as test data.

Usage: python bench/redact_profile.py [--run] FILE.json > redacted.json
"""

from __future__ import annotations

import json
import sys

REDACT = {"uuid", "serial", "hostname", "node"}


def redact(obj):
    if isinstance(obj, dict):
        return {k: ("REDACTED" if k in REDACT and isinstance(v, str) else redact(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact(v) for v in obj]
    return obj


def main(argv: list[str]) -> int:
    path = argv[-1]
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    json.dump(redact(data), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
