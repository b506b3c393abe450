"""MuMo for your own molecules: featurize, train, predict and evaluate from CSV files, and price a config.

Every command reads and writes plain files; `mumo COMMAND --help` says what each needs. Errors are one line
naming the file, row or key, at most 200 characters of message (`--debug` shows the traceback).
"""

# Thin argparse wrappers over library functions; imports are lazy to keep start-up fast.

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import re
import sys

from mumo import __version__
from mumo.catalog import MODELS

#: the longest error message printed (a library's can run to 1,000 characters); `--debug` shows all of it
MESSAGE_LIMIT = 200
#: terminal colour and cursor codes some libraries put into their messages
ANSI_CODE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


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


def _settings(args: argparse.Namespace, flags: dict | None = None) -> dict:
    """A settings file (YAML/JSON), then the command's explicit `flags` (those given), then `--set key=value`."""
    from mumo.train.settings import read_settings_file

    settings = read_settings_file(args.settings) if args.settings else {}
    return _key_values(settings | (flags or {}), args.set, "--set")


def _conformer(args: argparse.Namespace) -> dict:
    """The `--conformer KEY=VALUE` settings (checked where they are used: ConformerConfig.from_dict)."""
    return _key_values({}, args.conformer, "--conformer")


def _key_values(settings: dict, items: list[str], option: str) -> dict:
    """`settings` with KEY=VALUE items set in it (values read as YAML; dotted keys nest)."""
    import yaml

    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{option} expects KEY=VALUE, got {item!r}")  # one line, as every error
        *parents, leaf = key.split(".")
        target = settings
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = yaml.safe_load(value)
    return settings


def _owned_by_rank0(output: str, command: str) -> contextlib.AbstractContextManager:
    """The run folder held for `command` (`mumo.io.owned_output`) by the first process of a launch alone."""
    from mumo.io import owned_output

    first = int(os.environ.get("RANK", "0")) == 0
    return owned_output(output, command) if first else contextlib.nullcontext()


def _cmd_pretrain(args: argparse.Namespace) -> int:
    from mumo.train.recipes import PretrainData, run_pretrain

    data = PretrainData(args.corpus, args.store, args.vocab, _conformer(args))
    with _owned_by_rank0(args.output, "mumo pretrain"):
        run_pretrain(data, args.output, _settings(args), threads=args.threads)
    return 0


def _cmd_finetune(args: argparse.Namespace) -> int:
    from mumo.train.recipes import FinetuneData, run_finetune

    data = FinetuneData(
        args.table,
        args.split,
        args.store,
        args.vocab,
        args.target_columns,
        args.task_type,
        conformer=_conformer(args),
    )
    with _owned_by_rank0(args.output, "mumo finetune"):
        run_finetune(
            data,
            seed=args.seed,
            settings=_settings(args),
            out_predictions=args.predictions,
            out_dir=args.output,
            pretrained_dir=args.pretrained,
            threads=args.threads,
        )
    return 0


#: `mumo train`'s own defaults of these settings, under a --settings file and the flags given
TRAIN_FLAGS = {"preset": "small", "epochs": 30, "batch_size": 32, "lr": 3e-4}


def _cmd_train(args: argparse.Namespace) -> int:
    from mumo.apps.train_csv import EnsembleOptions, summarise, train_csv

    given = {name: getattr(args, name) for name in TRAIN_FLAGS if getattr(args, name) is not None}
    if hasattr(args, "patience"):  # given: --patience none (train every epoch) is a value, not an absence
        given["patience"] = args.patience
    settings = _settings(args, given)
    report = train_csv(
        args.input,
        args.output,
        args.smiles_column,
        args.target_columns,
        args.task_type,
        seeds=args.seeds,
        options=EnsembleOptions(
            split=args.split,
            splits_file=args.splits_file,
            fractions=args.split_fractions,
            pretrained=args.pretrained,
            settings=TRAIN_FLAGS | settings,
            fragments=args.fragments,
            conformer=_conformer(args),
            store=args.store,
            workers=args.workers,
            threads=args.threads,
            references=tuple(args.references),
        ),
    )
    summary = summarise(report.loc[report["fold"] == "test"])
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"ensemble of {len(args.seeds)} models -> {args.output} (report.md, report.csv)")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from mumo.apps.predict_csv import predict_csv

    out = predict_csv(
        args.model,
        args.input,
        args.output,
        smiles_column=args.smiles_column,
        batch_size=args.batch_size,
        workers=args.workers,
        stores=args.store,
    )
    counts = out["status"].value_counts().to_dict()
    print(f"{len(out)} rows, {int(out['n_models'].max())} models, statuses {counts} -> {args.output}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from mumo.eval.evaluate import evaluate_file

    metrics = [name for item in args.metrics for name in item.split(",") if name]
    scores = evaluate_file(args.input, metrics, where=args.where, group_by=args.group_by)
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

    from mumo.model.import_checkpoint import IMPORT_RECORD, import_checkpoint

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

    from mumo.apps.cost import estimate, format_bill

    bill = estimate(args.configfile, args.device, args.gpus, args.throughput)
    print(json.dumps(bill.summary(), indent=1) if args.json else format_bill(bill))
    return 0


_IMPORT_HELP = """\
Convert one of the authors' MuMo checkpoints (selmiss/MuMo, transformers layout: config.json, the weights
as model.safetensors or pytorch_model.bin or their shards with an index JSON, and tokenizer.json or
vocab.txt) into a mumo model directory.

SOURCE is either a local folder, or a Hugging Face hub id pinned to a commit, owner/name@<commit> (e.g.
zihaojing/MuMo-Pretrained@<40-hex commit>); an id without a commit, or with a branch or tag such as @main, is
refused, as an import must be reproducible.

DIR receives model.safetensors + config.json (the `paper` preset with the checkpoint's sizes, usable by
`mumo finetune --from DIR`, `mumo train --from DIR` and `mumo predict`), vocab.json (the authors' vocabulary, their ids
unchanged), task.json, and import.json: the source, its revision, the SHA-256 of every input file and the
tensors the reference allocates but never uses (per-block copies of the first graph layer, the angle
projection of later graph layers), which are listed with their parameter counts and not imported.
"""


#: old spellings, still accepted after an option's own name, not listed in the help
HIDDEN_ALIASES = frozenset({"--checkpoint", "--predictions"})


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after each help text; descriptions kept as written; old spellings not listed."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if (
            action.required or action.default is None or action.default is False or action.default == []
        ):  # nothing worth showing (0 is)
            return action.help
        return super()._get_help_string(action)

    def _format_action_invocation(self, action: argparse.Action) -> str:
        shown = action.option_strings[:1] + [s for s in action.option_strings[1:] if s not in HIDDEN_ALIASES]
        if shown != action.option_strings:
            action = copy.copy(action)
            action.option_strings = shown
        return super()._format_action_invocation(action)


_TRAIN_HELP = """\
Standardise DATA.csv, split it, compute its structures, and finetune one model per seed, all through the
pipeline's own steps. Without --from the models are trained from scratch (pretraining is `mumo pretrain`, or
use the authors' weights via `mumo import-checkpoint`).

DIR receives standardised.csv, rejected.csv (every dropped row with its reason), splits/seed{s}.json,
seed{s}/model/ (one model per seed), report.md and report.csv (scores per seed, mean ± std), and
ensemble.json; `mumo predict --model DIR` predicts with the whole ensemble.
"""

_PREDICT_HELP = """\
Every input row comes out, in order, with canonical_smiles, status (ok, truncated, unknown_tokens,
invalid_smiles, no_structure, failed) and reason; per task pred_<task> (the models' mean: P(class 1) or the
value in training units), std_<task> (their standard deviation, ddof 0; 0 for one model) and n_models.
"""

_EVALUATE_HELP = """\
Scores a predictions file: the long format of the pipeline and `mumo finetune` (mol_id, fold, task, y_true,
y_pred), or the output of `mumo predict` when it still has the label columns, named as the model's tasks
(pred_<task> scored against <task>, as one fold "all"; rows without a prediction are counted, not scored).
Labels follow standardisation's rules (finite numbers; 0 or 1 for classification metrics): a bad one stops
the scoring, naming its rows. `--where` and `--group-by` score a subset of the rows, or each group of them.
"""


def _at_least_one(text: str) -> int:
    """An argparse type for a count of devices: an integer >= 1, refused with the value otherwise."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"an integer >= 1 expected, got {text!r}")
    return value


def _training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--settings", help="YAML or JSON file of training settings (mumo.train.settings)")
    p.add_argument(
        "--set", action="extend", nargs="+", default=[], metavar="KEY=VALUE", help="override settings"
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")


def _add_datasets(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datasets", help="list the dataset registry and what is available offline")
    p.add_argument("--offline", action="store_true", help="only datasets available without network")
    p.set_defaults(func=_cmd_datasets)


def _add_featurize(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("featurize", help="RDKit structure stage on a CSV of SMILES")
    p.add_argument("input", help="CSV with a SMILES column")
    p.add_argument("--output", required=True, help="output directory (store + report.csv)")
    p.add_argument("--smiles-column", default="smiles", help="column holding the SMILES")
    p.add_argument("--workers", type=int, default=1, help="processes for the structure stage")
    p.set_defaults(func=_cmd_featurize)


def _optional_int(text: str) -> int | None:
    return None if text.lower() == "none" else int(text)


def _add_train(sub: argparse._SubParsersAction) -> None:
    from mumo.train.settings import TrainSettings  # the defaults the pipeline uses too

    p = sub.add_parser(
        "train",
        help="from a CSV to an ensemble of finetuned models (one per seed) with a report of test scores",
        description=_TRAIN_HELP,
    )
    p.add_argument("input", metavar="DATA.csv", help="CSV with a SMILES column and the target columns")
    p.add_argument("--output", required=True, metavar="DIR", help="ensemble folder to write")
    p.add_argument("--smiles-column", default="smiles", help="column holding the SMILES")
    p.add_argument("--target-columns", nargs="+", required=True, metavar="COLUMN", help="label columns")
    p.add_argument("--task-type", required=True, choices=["classification", "regression"], help="task type")
    p.add_argument(
        "--split",
        default="balanced_scaffold",
        help="random, scaffold, balanced_scaffold (seeded by each seed), or column:NAME (a column holding "
        "train/valid/test per row)",
    )
    p.add_argument(
        "--splits-file",
        metavar="JSON",
        help='folds as input row numbers (0-based): {"train": [...], "valid": [...], "test": [...]}',
    )
    p.add_argument(
        "--split-fractions",
        nargs=3,
        type=float,
        default=[0.8, 0.1, 0.1],
        metavar=("TRAIN", "VALID", "TEST"),
        help="fold fractions of a seeded split",
    )
    p.add_argument(
        "--seeds", nargs="+", type=int, default=[0, 1, 2], metavar="SEED", help="one model per seed"
    )
    p.add_argument(
        "--from",
        dest="pretrained",
        metavar="DIR",
        help="pretrained mumo model (a `mumo pretrain` run or model folder) or a `mumo import-checkpoint` "
        "folder; default: from scratch",
    )
    # no argparse defaults: a flag given wins over the --settings file, one not given leaves the file's value
    for flag, kind, what in (
        ("preset", str, "model size when training from scratch (tiny, small, ...)"),
        ("epochs", int, "most training epochs (the epoch of lowest validation loss is kept; see --patience)"),
        ("batch-size", int, "molecules per batch"),
        ("lr", float, "peak learning rate"),
    ):
        default = TRAIN_FLAGS[flag.replace("-", "_")]
        p.add_argument(
            f"--{flag}",
            type=kind,
            help=f"{what}; given, it wins over --settings (default: {default})",
        )
    p.add_argument(
        "--patience",
        type=_optional_int,
        default=argparse.SUPPRESS,
        metavar="N",
        help="stop after N validations (one per epoch) without a lower validation loss and keep the best "
        "epoch (given, it wins over --settings); 'none': train every epoch "
        f"(default: {TrainSettings.patience})",
    )
    p.add_argument("--fragments", default="largest", choices=["largest", "keep"], help="salts and mixtures")
    _conformer_option(p, "conformer settings of the structures")
    p.add_argument(
        "--store",
        metavar="DIR",
        help="structure store to share between runs (default: DIR/structures); each run reads its own file, "
        "named by the table and the conformer settings",
    )
    p.add_argument("--workers", type=int, default=1, help="processes for the structure stage")
    p.add_argument(
        "--references",
        nargs="*",
        default=["mean", "ecfp_rf"],
        choices=[name for name, spec in MODELS.items() if spec.kind != "mumo"],
        metavar="MODEL",
        help="reference models trained on the same folds and scored beside MuMo in report.md/report.csv: "
        "mean, ecfp_rf, chemprop (minutes per seed on a CPU); none given: no references",
    )
    _training_options(p)
    p.set_defaults(func=_cmd_train)


def _required(p: argparse.ArgumentParser, **helps: str) -> None:
    """Required `--name` options, in the order given, each with its help text."""
    for name, help_text in helps.items():
        p.add_argument(f"--{name}", required=True, help=help_text)


def _conformer_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--conformer",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help=f"{what} (mumo.chem.conformer.ConformerConfig: max_embed_attempts, max_iters, num_conformers, "
        "...); default: its defaults, as the pipeline's",
    )


def _store_and_vocab(p: argparse.ArgumentParser) -> None:
    """The structure store (its files, checked against --conformer) and the vocabulary of a training run."""
    p.add_argument(
        "--store",
        nargs="+",
        required=True,
        metavar="FILE",
        help="structure store files (.npz; a folder means every file in it), built with --conformer",
    )
    _conformer_option(p, "conformer settings the store was built with (a file built otherwise is refused)")
    _required(p, vocab="vocabulary JSON")


def _add_pretrain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pretrain", help="masked-token pretraining on a corpus (runs under torchrun too)")
    _required(p, corpus="CSV with a canonical_smiles column")
    _store_and_vocab(p)
    _required(p, output="run directory")
    _training_options(p)
    p.set_defaults(func=_cmd_pretrain)


def _add_finetune(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("finetune", help="finetune on one split, predict its valid and test folds")
    _required(p, table="standardised CSV", split="split JSON")
    _store_and_vocab(p)
    p.add_argument("--target-columns", nargs="+", required=True, metavar="COLUMN", help="label columns")
    p.add_argument("--task-type", required=True, choices=["classification", "regression"], help="task type")
    p.add_argument("--seed", type=int, default=0, help="training seed (the pipeline's are 0, 1, 2)")
    p.add_argument("--predictions", required=True, help="output predictions CSV (long format)")
    p.add_argument("--output", required=True, help="run directory")
    p.add_argument("--from", dest="pretrained", metavar="DIR", help="pretrained model directory")
    _training_options(p)
    p.set_defaults(func=_cmd_finetune)


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="predict a CSV of SMILES with a model or an ensemble (mean, std and count across models)",
        description=_PREDICT_HELP,
    )
    p.add_argument(
        "--model",
        "--checkpoint",
        nargs="+",
        required=True,
        metavar="DIR",
        help="model folders, run folders, or folders of seeds (a `mumo train` output, a pipeline run folder)",
    )
    p.add_argument("--input", required=True, help="CSV with a SMILES column")
    p.add_argument("--output", required=True, help="predictions CSV to write")
    p.add_argument("--smiles-column", default="smiles", help="column holding the SMILES")
    p.add_argument("--batch-size", type=int, default=64, help="molecules per batch")
    p.add_argument("--workers", type=int, default=1, help="processes for the structure stage")
    p.add_argument(
        "--store",
        nargs="+",
        default=[],
        metavar="FILE",
        help="structure store files to read molecules from (a folder means every file in it); a file built "
        "with other conformer settings than the models' is refused",
    )
    p.set_defaults(func=_cmd_predict)


def _add_import_checkpoint(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-checkpoint",
        help="convert an authors' MuMo checkpoint (folder or hub id@commit) into a mumo model directory",
        description=_IMPORT_HELP,
    )
    p.add_argument(
        "source", metavar="SOURCE", help="local folder, or owner/name@<commit> on the Hugging Face hub"
    )
    p.add_argument("--output", required=True, metavar="DIR", help="mumo model directory to write")
    p.add_argument("--cache-dir", help="download cache for hub sources (default: huggingface_hub's)")
    p.set_defaults(func=_cmd_import_checkpoint)


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a predictions file", description=_EVALUATE_HELP)
    p.add_argument("--input", "--predictions", required=True, help="predictions CSV (either format)")
    p.add_argument("--metrics", nargs="+", required=True, help="e.g. roc_auc pr_auc")
    p.add_argument("--output", help="also write the scores as CSV")
    p.add_argument(
        "--where",
        action="extend",
        nargs="+",
        default=[],
        metavar="COLUMN=VALUE",
        help="score only the rows where COLUMN is VALUE (several: all must hold), e.g. flagged=1",
    )
    p.add_argument("--group-by", metavar="COLUMN", help="one block of scores per value of COLUMN")
    p.set_defaults(func=_cmd_evaluate)


def _add_cost(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cost", help="GPU-hours and wall time of a config's training jobs (an estimate)")
    p.add_argument("--configfile", default="config/config.yaml", help="workflow config (as for snakemake)")
    p.add_argument("--gpus", type=_at_least_one, default=4, help="devices of one node")
    p.add_argument(
        "--device", default="a100", help="device kind of the throughput table (a100, h100, cpu...)"
    )
    p.add_argument(
        "--throughput",
        nargs="+",
        default=[],
        metavar="CSV",
        help="more measured rows (benchmarks/gpu.py output), replacing the table's for the same key",
    )
    p.add_argument("--json", action="store_true", help="print the bill as JSON")
    p.set_defaults(func=_cmd_cost)


#: one function per subcommand; a new subcommand is a `_add_<name>(sub)` function added here
SUBCOMMANDS = (
    _add_datasets,
    _add_featurize,
    _add_train,
    _add_predict,
    _add_evaluate,
    _add_pretrain,
    _add_finetune,
    _add_import_checkpoint,
    _add_cost,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mumo", description=__doc__, formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    for action in sub._choices_actions:  # each command's own --help opens with its purpose, as the list does
        command = sub.choices[action.dest]
        command.description = "\n\n".join(filter(None, [action.help, command.description]))
    for command in sub.choices.values():  # `--debug` also after the command; SUPPRESS keeps a leading one
        command.formatter_class = _HelpFormatter
        command.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
    return parser


def _one_line(error: Exception) -> str:
    """The error's own message on one line of at most MESSAGE_LIMIT characters, without terminal codes
    (KeyError's repr quotes dropped, OSError as "path: reason")."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    elif isinstance(error, KeyError) and error.args:
        text = str(error.args[0])
    else:
        text = str(error)
    text = " ".join(ANSI_CODE.sub("", text).split()) or type(error).__name__
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


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
