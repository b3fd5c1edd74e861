"""`infrabench baseline list | show NAME | save NAME --from RUN.json [--class ai|it]`.

Bundled baselines ship with the package; saved ones go to the user baseline folder
($INFRABENCH_BASELINE_DIR, else $XDG_DATA_HOME/infrabench/baselines), with the run file kept beside.
`save` never replaces a baseline of the same name unless given --force: a saved baseline is a
reference other runs are judged against, and a typo in NAME must not silently lose it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from infrabench.errors import UsageError


def add_baseline_arguments(parser: argparse.ArgumentParser,
                           parents: Sequence[argparse.ArgumentParser] = ()) -> None:
    """`parents`: options every action takes too (the CLI's --debug)."""
    sub = parser.add_subparsers(dest="baseline_action", metavar="ACTION")
    sub.add_parser("list", help="name, class and source kinds of every baseline", parents=list(parents))
    show = sub.add_parser("show", help="every figure of one baseline with its provenance", parents=list(parents))
    show.add_argument("name", metavar="NAME")
    save = sub.add_parser("save", help="save a run's figures as a user baseline", parents=list(parents))
    save.add_argument("name", metavar="NAME")
    save.add_argument("--from", dest="run_file", type=Path, required=True, metavar="RUN.json")
    save.add_argument("--class", dest="cls", choices=("ai", "it"), default="it",
                      help="the class this machine belongs to (default it)")
    save.add_argument("--force", action="store_true", help="replace a user baseline of the same name")


def _list(out) -> int:
    from infrabench.reports.baselines import load_all, user_dir

    baselines = load_all()
    width = max(len(b.name) for b in baselines) if baselines else 4
    out.write(f"{'NAME':<{width}}  CLASS  ORIGIN   SOURCES\n")
    for b in baselines:
        out.write(f"{b.name:<{width}}  {b.cls.upper():<5}  {b.origin:<7}  {', '.join(b.source_kinds()) or '—'}\n")
    out.write(f"user baselines: {user_dir()}\n")
    return 0


def _show(name: str, out) -> int:
    from infrabench.reports.baselines import find
    from infrabench.reports.neutral import visible

    b = find(name)
    # A user's baseline file is input: its text reaches the terminal with control characters made visible.
    out.write(visible(f"{b.name} ({b.cls.upper()}, {b.origin}: {b.path})") + "\n" + visible(b.description) + "\n")
    for key in sorted(b.figures):
        f = b.figures[key]
        out.write(visible(f"  {key}: {f.value:g} {f.unit}") + "\n" + visible(f"    {f.provenance.text()}") + "\n")
        if f.note:
            out.write(visible(f"    note: {f.note}") + "\n")
    return 0


def _existing(name: str) -> Path | None:
    """The file a save of NAME would replace (NAME.json, or the NAME.run.json kept beside it), if any."""
    from infrabench.reports.baselines import NAME_RE, user_dir

    if not NAME_RE.fullmatch(name):  # save_from_run refuses the name with its own message
        return None
    folder = user_dir()
    return next((p for p in (folder / f"{name}.json", folder / f"{name}.run.json") if p.exists()), None)


def _save(args: argparse.Namespace, out) -> int:
    from infrabench.reports.baselines import save_from_run
    from infrabench.results import Run

    existing = None if getattr(args, "force", False) else _existing(args.name)
    if existing is not None:
        raise UsageError(f"baseline save {args.name}: {existing} exists; pass --force to overwrite it")
    run = Run.load(args.run_file)
    path = save_from_run(args.name, run, args.run_file, args.cls)
    out.write(f"saved baseline {args.name} ({args.cls.upper()}) to {path}\n")
    return 0


def baseline_command(args: argparse.Namespace) -> int:
    action = getattr(args, "baseline_action", None)
    if action == "list":
        return _list(sys.stdout)
    if action == "show":
        return _show(args.name, sys.stdout)
    if action == "save":
        return _save(args, sys.stdout)
    raise UsageError("baseline: give an action: list, show NAME or save NAME --from RUN.json")
