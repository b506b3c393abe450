"""The `mumo` command: thin argparse wrappers over library functions (imports are lazy to keep start-up fast)."""

from __future__ import annotations

import argparse
import sys


def _cmd_datasets(args: argparse.Namespace) -> int:
    from mumo.data.registry import format_registry

    print(format_registry(only_offline=args.offline))
    return 0


def _cmd_featurize(args: argparse.Namespace) -> int:
    from mumo.chem.store import featurize_csv

    featurize_csv(args.input, args.output, smiles_column=args.smiles_column, workers=args.workers)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mumo", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("datasets", help="list the dataset registry and what is available offline")
    p.add_argument("--offline", action="store_true", help="only datasets available without network")
    p.set_defaults(func=_cmd_datasets)

    p = sub.add_parser("featurize", help="RDKit structure stage on a CSV of SMILES")
    p.add_argument("input")
    p.add_argument("--output", required=True, help="output directory (store + report.csv)")
    p.add_argument("--smiles-column", default="smiles")
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(func=_cmd_featurize)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
