"""The rules' priorities. Snakemake starts the ready jobs of highest priority first (`priority:` of a rule):
the corpus's structures and the pretraining gate every MuMo finetune, so they go first, except the largest
table's structures, which start beside them; among the rest, the jobs expected to run longest go first, so that
a run does not end on one long job alone on a core."""

from __future__ import annotations

from dataclasses import dataclass

from mumo.catalog import get_model
from mumo.plan.layout import Plan, StorePart

#: Priority tiers of the rules (see Schedule): the pretraining chain (every dataset's table,
#: the corpus, its structures, pretrain) and the splits (a second each, but left at priority 0 they wait for a
#: free core while the finetunes wait for them), then the tables' structures; a tier is above any dataset's size.
PRETRAINING_CHAIN_PRIORITY = 2_000_000
#: The largest table's structures and then its finetunes are a small run's longest chain, longer than the corpus's
#: structures and pretraining before the same finetunes (the default run's job times,
#: benchmarks/results/default-run.md): started after the corpus, they would end the run alone on one core. In a
#: run whose pretraining dominates, this delays the corpus by at most one core for one job.
LONGEST_CHAIN_PRIORITY = PRETRAINING_CHAIN_PRIORITY + 10
TABLE_STRUCTURE_PRIORITY = 1_000_000
#: The conformer-robustness stage (its structures and predictions) reads finished models only: it fills the
#: cores the training path leaves free.
ROBUSTNESS_PRIORITY = 0


def _step_cost(model: str) -> int:
    """A training step's relative cost: 2 for a model that reads the graph, 1 for a sequence-only one (a step
    without the graph costs 0.6 of one with it, benchmarks/results/train-cpu.md)."""
    return 2 if get_model(model).overrides.get("use_graph", True) else 1


@dataclass(frozen=True)
class Schedule:
    """The priority of each job of a plan (the Snakefile's `schedule`)."""

    plan: Plan

    def structure(self, part: str) -> int:
        """The largest table's part first, then the corpus's shards; the other tables' after the pretraining,
        the larger first."""
        store_part = StorePart.parse(part)
        if store_part.is_corpus:
            return PRETRAINING_CHAIN_PRIORITY
        if store_part.dataset == max(self.plan.datasets, key=self._rows):
            return LONGEST_CHAIN_PRIORITY
        return TABLE_STRUCTURE_PRIORITY + self._rows(store_part.dataset)

    def pretrain(self, model: str) -> int:
        """The pretraining chain's; of two pretrainings ready together, the costlier first."""
        return PRETRAINING_CHAIN_PRIORITY + _step_cost(model)

    def finetune(self, model: str, dataset: str) -> int:
        """Longest first: the molecules of the dataset times the model's relative cost of a step."""
        return self._rows(dataset) * _step_cost(model)

    def _rows(self, dataset: str) -> int:
        """The dataset's molecules as the registry knows them (0 where it does not), to order jobs by size."""
        return self.plan.declared.datasets[dataset].spec.rows or 0
