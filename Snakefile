"""mumo: download -> standardise -> split -> structure -> train per {dataset, split, seed} -> evaluate -> table."""

from pathlib import Path

from snakemake.utils import min_version, validate

from mumo.plan import (
    PRETRAINING_CHAIN_PRIORITY,
    ROBUSTNESS_PRIORITY,
    SCHEMA,
    Plan,
    Schedule,
    StorePart,
    type_command_line_values,
)

min_version("9.0")


# --configfile replaces the default instead of merging into it (a merge would mix the datasets of both).
if not workflow.config_settings.configfiles:

    configfile: "config/config.yaml"


# --config seeds=[1] gives ['1'] (YAML's BaseLoader): retyped as a config file would have it
type_command_line_values(config, workflow.config_settings.config)
validate(config, str(SCHEMA))


report: "workflow/report/workflow.rst"


# a `models` given with --config filters the run (its table and figures get a name of their own)
plan = Plan.from_config(config, overrides=workflow.config_settings.config.keys())
schedule = Schedule(plan)
RESULTS = str(plan.results)
FIGURES = plan.figures_dir


wildcard_constraints:
    dataset=r"[A-Za-z0-9_\-]+",
    split=r"[a-z_]+",
    seed=r"\d+",
    seeds=r"\d+(\+\d+)*",
    model=r"[a-z0-9_]+",


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/structure.smk"
include: "rules/baselines.smk"
include: "rules/mumo.smk"
include: "rules/report.smk"


# Run in Snakemake's own process whatever the executor: on a cluster these are the login node's jobs, because
# the downloads need the internet that compute nodes often lack, and the rest only read and write a few
# files in seconds (a SLURM submission would wait longer in the queue than it runs). On a laptop: no change.
localrules:
    all,
    ablations,
    download,
    fetch_dataset,
    fetch_authors,
    import_checkpoint,
    data_report,
    structure_report,
    aggregate,
    compare,
    figures,
    comparisons_figure,
    learning_curves,
    robustness_figure,


rule all:
    default_target: True
    input:
        plan.targets(),


# `snakemake ablations`: every ablation of MuMo on the configured datasets, splits and
# seeds, whether or not `models:` lists them; `ablations: true` also puts them in the table and figures.
rule ablations:
    input:
        plan.ablation_records(),
