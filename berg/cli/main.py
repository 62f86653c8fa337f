"""The ``berg`` parser and entry point; each command lives in a module of this package."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from berg import __version__
from berg.cli import encoding, experiments, fetch, info, results
from berg.cli.common import default_berg_dir
from berg.errors import BERGError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="berg", description="In silico fMRI with TRIBE v2 behind the BERG interface."
    )
    parser.add_argument("--version", action="version", version=f"berg {__version__}")
    parser.add_argument(
        "--berg-dir",
        type=Path,
        default=None,
        help="BERG directory holding the weights (default: $BERG_DIR, else ~/.cache/berg)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show full tracebacks on errors"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for commands in (info, fetch, encoding, results, experiments):
        commands.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from berg.api import BERG

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        berg = BERG(args.berg_dir or default_berg_dir())
        args.func(args, berg)
    except BERGError as exc:
        if args.verbose:
            raise
        # One line, as command-line conventions want; the text itself is complete.
        print(f"berg: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. an unwritable --json target
        if args.verbose:
            raise
        print(f"berg: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("berg: interrupted", file=sys.stderr)
        return 130
    return 0
