"""Model configuration and the registry of named presets (docs/model.md §2, §3.1).

`MuMoConfig()` is the paper's configuration. The defaults of the ablation switches give the full model; every
[quirk] of docs/model.md is a boolean that is on in `paper` and off in `fixed`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

#: the files of a saved model folder (mumo.model.saved writes and verifies them; the Snakefile names them)
CONFIG_NAME, WEIGHTS_NAME, CHECKSUMS_NAME = "config.json", "model.safetensors", "checksums.json"
VOCAB_NAME, TASK_NAME, FEATURIZATION_NAME = "vocab.json", "task.json", "featurization.json"
HEADS = ("pretrain", "classification", "multilabel", "regression")
POOLERS = ("cls", "bipooler", "mixpooler")
# tokens a model reads per SMILES, [CLS] and [SEP] included, unless a run sets max_length (docs/model.md §1.1)
PRETRAIN_MAX_LENGTH, FINETUNE_MAX_LENGTH = 512, 1024
QUIRKS = (
    "additive_mask_bug",
    "bipooler_reads_pad",
    "mixpooler_mean_reads_pad",
    "nan_labels_as_negative",
    "mamba_ignores_pad_in_training",
    "random_batch_order",
    "eval_in_dataset_order",
    "skip_edgeless_graph_steps",
    "tokens_from_raw_smiles",
)


@dataclass(frozen=True)
class MuMoConfig:
    # sizes (§3.1)
    vocab_size: int = 2364  # set from the tokenizer's vocabulary
    hidden_size: int = 768
    n_seq_layers: int = 8
    n_fusion_layers: int = 8
    n_heads: int = 12
    d_inner: int = 3072
    d_state: int = 16
    d_conv: int = 4
    dt_rank: int = 64
    dt_min: float = 1e-3  # Δ range and floor of the Mamba-paper Δ init (init="mamba")
    dt_max: float = 0.1
    dt_init_floor: float = 1e-4
    attention_dropout: float = 0.1  # 0.1 for pretraining and classification, 0 for regression, SIDER, Tox21
    hidden_dropout: float = 0.1
    # "linear": atom/bond indices cast to float and projected (paper); "embedding": sum of per-feature embeddings
    atom_encoder: str = "linear"
    # "paper": PyTorch module defaults (Δ bias ~ U(±1/sqrt(dt_rank)), embedding N(0,1)); "mamba": Mamba-paper Δ init
    init: str = "paper"

    # ablations; the defaults are the full model
    use_graph: bool = True  # False: sequence only (FusionBlocks keep self-attention, Mamba and the norm)
    use_geometry: bool = True  # False: no 3D bond-angle updates (2D graph only)
    use_fragments: bool = True  # False: no BRICS fragment view and no fusion gate
    injection: str = "attention"  # "attention": injection-enhanced cross attention; "add": plain addition

    # quirks of the paper's code (§2.2, §2.7); on in `paper`, off in `fixed`
    additive_mask_bug: bool = True  # the 0/1 key mask is added to the logits instead of masking with −inf
    bipooler_reads_pad: bool = True  # last-position poolers read position L−1 (often [PAD]), not [SEP]
    mixpooler_mean_reads_pad: bool = True  # mixpooler's mean runs over all L positions, pads included
    nan_labels_as_negative: bool = True  # multi-label: missing labels trained as 0 instead of masked
    # quirks of the paper's training runs. They matter because its batches pad far more than ours (BBBP,
    # batch 4: pads are 32 % of the attention keys there, 2-4 % here) and additive_mask_bug lets pads into
    # attention. In training mode only, the paper's Mamba runs the fused mamba-ssm kernel, which never sees
    # the mask: x is not zeroed at pads before or after the conv, and pad states carry the molecule's scan.
    mamba_ignores_pad_in_training: bool = True
    # training batches: a seeded shuffle cut into batches (HF Trainer's RandomSampler), not grouped by length
    random_batch_order: bool = True
    # validation, test and prediction batches: consecutive rows in dataset order, not sorted by length
    eval_in_dataset_order: bool = True
    # a graph step whose edges are absent from the whole batch is skipped, so a molecule without bonds (one heavy
    # atom) or without angles is encoded differently alone than beside other molecules (the reference's
    # GeoGraphLayer does this); off: every step runs, with no messages for such a molecule
    skip_edgeless_graph_steps: bool = True
    # finetuning tokenises and featurises the dataset's SMILES as given (all fragments, its spelling), not
    # the standardised canonical largest fragment (read by mumo.train.recipes.run_finetune, not the model)
    tokens_from_raw_smiles: bool = True

    # head (§2.6, §2.7)
    head: str = "pretrain"
    num_tasks: int = 1  # outputs of multilabel/regression heads; classification always has 2 logits
    pooler: str = "cls"
    graph_sum: bool = False  # concatenate the sum of the final atom states to the pooled vector

    # kernels: None chooses per call (CUDA kernel when importable and on CUDA); "ref" | "torch" | "cuda" force one
    kernel_impl: str | None = None

    def __post_init__(self) -> None:
        choices = {
            "atom_encoder": ("linear", "embedding"),
            "init": ("paper", "mamba"),
            "injection": ("attention", "add"),
            "head": HEADS,
            "pooler": POOLERS,
            "kernel_impl": (None, "ref", "torch", "cuda"),
        }
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                raise ValueError(f"MuMoConfig.{name}={getattr(self, name)!r}; valid: {valid}")
        if self.hidden_size % self.n_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by n_heads {self.n_heads}")
        if self.head == "classification" and self.num_tasks != 1:
            raise ValueError(
                "classification is single-task (2 logits); use head='multilabel' for several tasks"
            )
        if self.graph_sum and not (self.use_graph and self.n_fusion_layers):
            raise ValueError("graph_sum needs the graph: use_graph=True and n_fusion_layers > 0")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MuMoConfig:
        """A saved config. A quirk it lacks is off: the model was saved before the quirk existed, without it."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown MuMoConfig fields {unknown}; valid: {sorted(known)}")
        return cls(**(dict.fromkeys(QUIRKS, False) | data))


_PAPER = MuMoConfig()
_FIXES = dict.fromkeys(QUIRKS, False) | {"atom_encoder": "embedding"}


def _scaled(*, hidden_size: int, layers: int, n_heads: int, dt_rank: int, **extra: float) -> MuMoConfig:
    """A smaller MuMo with every quirk off: `layers` sequence and as many fusion layers, a Mamba inner size of
    twice the hidden size (the paper's is four times; halved to keep CPU runs short)."""
    return dataclasses.replace(
        _PAPER,
        hidden_size=hidden_size,
        n_seq_layers=layers,
        n_fusion_layers=layers,
        n_heads=n_heads,
        d_inner=2 * hidden_size,
        dt_rank=dt_rank,
        **_FIXES,
        **extra,
    )


PRESETS: dict[str, MuMoConfig] = {
    "paper": _PAPER,
    # paper sizes, every quirk off; per-feature embeddings instead of projecting raw indices ([paper/quirk] §1.2)
    "fixed": dataclasses.replace(_PAPER, **_FIXES),
    # the default CPU pipeline: trains on ~1-2k molecules on 2 cores in minutes
    "small": _scaled(hidden_size=128, layers=2, n_heads=4, dt_rank=8),
    # for tests: a few ms per step
    "tiny": _scaled(
        hidden_size=32, layers=1, n_heads=2, dt_rank=4, attention_dropout=0.0, hidden_dropout=0.0
    ),
}


def preset_names() -> list[str]:
    return sorted(PRESETS)


def get_preset(name: str, **overrides: Any) -> MuMoConfig:
    """The named configuration, with fields replaced by `overrides` (e.g. head="regression", num_tasks=1)."""
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; valid presets: {', '.join(preset_names())}")
    return dataclasses.replace(PRESETS[name], **overrides)
