"""``python -m nova_corrente.quality build [--project-root DIR]``: (re)build the GX file context."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nova_corrente.quality.context import PROJECT_ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nova_corrente.quality", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="write suites, validation definitions and checkpoints")
    build_parser.add_argument(
        "--project-root", type=Path, default=PROJECT_ROOT, help="GX project root (default: expectations/)"
    )
    args = parser.parse_args(argv)

    from nova_corrente.quality.suites import build

    context = build(args.project_root)
    root = Path(context.root_directory)
    suites = sorted(suite.name for suite in context.suites.all())
    print(f"built {len(suites)} suites, validation definitions and checkpoints in {root}: {', '.join(suites)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
