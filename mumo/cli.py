"""The `mumo` command: thin argparse wrappers over library functions (imports are lazy to keep start-up fast)."""

from __future__ import annotations

import argparse
import sys


def _cmd_datasets(args: argparse.Namespace) -> int:
    from mumo.data.registry import format_registry

    print(format_registry(only_offline=args.offline))
    return 0


def _cmd_featurize(args: argparse.Namespace) -> int:
    from mumo.chem.store import featurize_csv, summarize_outcomes

    report = featurize_csv(args.input, args.output, smiles_column=args.smiles_column, workers=args.workers)
    summary = summarize_outcomes(report)
    print(
        summary.loc[summary["molecules"] > 0, ["outcome", "label", "molecules", "reasons"]].to_string(
            index=False
        )
    )
    print(f"{len(report)} rows -> {args.output}/report.csv")
    return 0


def _settings(args: argparse.Namespace) -> dict:
    """A settings file (YAML/JSON), then `--set key=value` overrides (values read as YAML; dotted keys nest)."""
    import yaml

    from mumo.train.settings import read_settings_file

    settings = read_settings_file(args.settings) if args.settings else {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        *parents, leaf = key.split(".")
        target = settings
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = yaml.safe_load(value)
    return settings


def _cmd_pretrain(args: argparse.Namespace) -> int:
    from mumo.train.recipes import run_pretrain

    run_pretrain(args.corpus, args.store, args.vocab, args.out, _settings(args), threads=args.threads)
    return 0


def _cmd_finetune(args: argparse.Namespace) -> int:
    from mumo.train.recipes import run_finetune

    run_finetune(
        args.table,
        args.split,
        args.store,
        args.vocab,
        args.tasks.split(","),
        args.task_type,
        args.seed,
        _settings(args),
        args.predictions,
        args.out,
        pretrained_dir=args.pretrained,
        threads=args.threads,
    )
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from mumo.train.predict import predict_csv

    predict_csv(
        args.checkpoint,
        args.input,
        args.output,
        smiles_column=args.smiles_column,
        batch_size=args.batch_size,
        workers=args.workers,
    )
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from mumo.eval.evaluate import evaluate_file

    scores = evaluate_file(args.predictions, args.metrics.split(","))
    if args.output:
        from mumo.io import write_csv

        write_csv(scores, args.output)
    print(scores.to_string(index=False))
    return 0


def _cmd_import_checkpoint(args: argparse.Namespace) -> int:
    import json
    import re
    from collections import Counter
    from pathlib import Path

    from mumo.train.import_checkpoint import IMPORT_RECORD, import_checkpoint

    cache_dir = Path(args.cache_dir) if args.cache_dir else None
    out = import_checkpoint(args.source, Path(args.output), cache_dir=cache_dir)
    record = json.loads((out / IMPORT_RECORD).read_text())
    # one line per never-used module (a full-size checkpoint has ~230 such tensors; import.json lists each)
    modules: Counter[str] = Counter()
    for item in record["never_used"]:
        modules[re.sub(r"(first_graph_layer|lin_c)\..*", r"\1", item["name"])] += item["parameters"]
    for module, parameters in modules.items():
        print(f"never used: {module} ({parameters:,} parameters)")
    print(
        f"{record['kind']} checkpoint -> {out} ({len(record['never_used'])} never-used tensors, "
        f"{record['never_used_parameters']:,} parameters, left out and listed in {IMPORT_RECORD})"
    )
    return 0


def _cmd_cost(args: argparse.Namespace) -> int:
    import json

    from mumo.cost import estimate, format_bill

    bill = estimate(args.configfile, args.device, args.gpus, args.throughput)
    print(json.dumps(bill.summary(), indent=1) if args.json else format_bill(bill))
    return 0


_IMPORT_HELP = """\
Convert one of the authors' MuMo checkpoints (selmiss/MuMo, transformers layout: config.json, the weights
as model.safetensors or pytorch_model.bin or their shards with an index JSON, and tokenizer.json or
vocab.txt) into a mumo model directory.

SOURCE is either a local folder, or a Hugging Face hub id pinned to a revision, owner/name@revision (e.g.
zihaojing/MuMo-Pretrained@<commit>); an id without a revision is refused, as an import must be reproducible.

DIR receives model.safetensors + config.json (the `paper` preset with the checkpoint's sizes, usable by
`mumo finetune --pretrained DIR` and `mumo predict`), vocab.json (the authors' vocabulary, their ids
unchanged), task.json, and import.json: the source, its revision, the SHA-256 of every input file and the
tensors the reference allocates but never uses (per-block copies of the first graph layer, the angle
projection of later graph layers), which are listed with their parameter counts and not imported.
"""


def _training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--settings", help="YAML or JSON file of training settings (mumo.train.settings)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one setting")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mumo", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
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

    p = sub.add_parser("pretrain", help="masked-token pretraining on a corpus (runs under torchrun too)")
    p.add_argument("--corpus", required=True, help="CSV with a canonical_smiles column")
    p.add_argument("--store", required=True, help="structure store directory")
    p.add_argument("--vocab", required=True, help="vocabulary JSON")
    p.add_argument("--out", required=True, help="run directory")
    _training_options(p)
    p.set_defaults(func=_cmd_pretrain)

    p = sub.add_parser("finetune", help="finetune on one split, predict its valid and test folds")
    p.add_argument("--table", required=True, help="standardised CSV")
    p.add_argument("--split", required=True, help="split JSON")
    p.add_argument("--store", required=True, help="structure store directory")
    p.add_argument("--vocab", required=True, help="vocabulary JSON")
    p.add_argument("--tasks", required=True, help="comma-separated label columns")
    p.add_argument("--task-type", required=True, choices=["classification", "regression"])
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--predictions", required=True, help="output predictions CSV (long format)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--pretrained", help="pretrained model directory (default: train from scratch)")
    _training_options(p)
    p.set_defaults(func=_cmd_finetune)

    p = sub.add_parser("predict", help="predict a CSV of SMILES with a finetuned model")
    p.add_argument("--checkpoint", required=True, help="model directory (or a run directory with model/)")
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--smiles-column", default="smiles")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workers", type=int, default=1, help="processes for the structure stage")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser(
        "import-checkpoint",
        help="convert an authors' MuMo checkpoint (folder or hub id@revision) into a mumo model directory",
        description=_IMPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "source", metavar="SOURCE", help="local folder, or owner/name@revision on the Hugging Face hub"
    )
    p.add_argument("--output", required=True, metavar="DIR", help="mumo model directory to write")
    p.add_argument("--cache-dir", help="download cache for hub sources (default: huggingface_hub's)")
    p.set_defaults(func=_cmd_import_checkpoint)

    p = sub.add_parser("cost", help="GPU-hours and wall time of a config's training jobs (an estimate)")
    p.add_argument("--configfile", default="config/config.yaml", help="workflow config (as for snakemake)")
    p.add_argument("--gpus", type=int, default=4, help="devices of one node")
    p.add_argument(
        "--device", default="a100", help="device kind of the throughput table (a100, h100, cpu...)"
    )
    p.add_argument(
        "--throughput",
        action="append",
        default=[],
        metavar="CSV",
        help="more measured rows (benchmarks/gpu.py output), replacing the table's for the same key",
    )
    p.add_argument("--json", action="store_true", help="print the bill as JSON")
    p.set_defaults(func=_cmd_cost)

    p = sub.add_parser("evaluate", help="score a predictions file")
    p.add_argument("--predictions", required=True)
    p.add_argument("--metrics", required=True, help="comma-separated, e.g. roc_auc,pr_auc")
    p.add_argument("--output", help="also write the scores as CSV")
    p.set_defaults(func=_cmd_evaluate)
    for command in sub.choices.values():  # `--debug` also after the command; SUPPRESS keeps a leading one
        command.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
    return parser


def _one_line(error: Exception) -> str:
    """The error's own message on one line (KeyError's repr quotes dropped), else its type."""
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    return " ".join(text.split()) or type(error).__name__


def main(argv: list[str] | None = None) -> int:
    """Run a command; an error is one line on stderr and exit status 1 (`--debug`: the traceback)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as error:  # every failure reaches the user as its message, the traceback on request
        if args.debug:
            raise
        print(
            f"mumo {args.command}: error: {_one_line(error)} (--debug shows the traceback)", file=sys.stderr
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
