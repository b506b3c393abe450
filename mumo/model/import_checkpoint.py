"""Import the authors' MuMo checkpoints (selmiss/MuMo, transformers layout) as mumo model directories.

Entry point: `import_checkpoint(source, output_dir, cache_dir=None)`. SOURCE is a local folder or a Hugging
Face hub id pinned to a commit, `owner/name@<40-hex commit>` (an id without one, or with a branch or tag
such as `@main`, is refused: an import must be reproducible). The folder holds `config.json`, the weights (`model.safetensors`, `pytorch_model.bin`, or
their shards with an index JSON) and the tokenizer (`tokenizer.json`, or `vocab.txt` one token per line).

The output directory is a saved model folder (`mumo.model.saved`), what `run_finetune(pretrained_dir=...)` reads:
`model.safetensors` + `config.json` (a `paper`-preset MuMoConfig with the reference's sizes), `vocab.json`
(the authors' fixed vocabulary, their ids unchanged), `task.json`, `featurization.json` (how the authors'
pipeline featurised molecules, and what it left random), and last `import.json`: source (a local folder as
an absolute path), revision, SHA-256 of every input file, and the tensors the reference allocates but never
uses.

Every used tensor is renamed by the explicit table `RULES` (reference name pattern → mumo name); an unknown
key, a shape mismatch or a missing tensor is an error that names it. The reference allocates the first-layer
graph embedding in every fusion block but only the first block's runs, and gives every later graph layer an
angle projection (`lin_c`) that only the first layer applies: those are listed, not imported.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

import mumo
from mumo.chem.conformer import ConformerConfig
from mumo.chem.tokenizer import SMILES_PATTERN, SmilesTokenizer
from mumo.io import owned_output, sha256sum, write_json
from mumo.model import MuMo, get_preset
from mumo.model.config import FINETUNE_MAX_LENGTH, PRETRAIN_MAX_LENGTH, MuMoConfig
from mumo.model.saved import ModelTask, featurization, save_model

logger = logging.getLogger(__name__)

IMPORT_RECORD = "import.json"
IMPORT_COMMAND = "mumo import-checkpoint"  # the owner of its output folder (mumo.io.owned_output)
#: The files a hub download fetches; anything else in the repository is left on the hub.
HUB_FILES = [
    "config.json",
    "model.safetensors",
    "model.safetensors.index.json",
    "model-*.safetensors",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "pytorch_model-*.bin",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
]
_COMMIT = re.compile(r"[0-9a-f]{40}")  # a hub revision that cannot move: a commit, in full
_HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[\w.-]+)(?:@(?P<revision>[^@\s]*))?$")

# --------------------------------------------------------------------------------------------------
# The key map: reference name → mumo name. {i}, {j} are layer numbers, {p} is weight or bias.

_ATTENTION = {  # transformers' BertAttention → mumo.model.attention.Attention
    "self.query": "query",
    "self.key": "key",
    "self.value": "value",
    "output.dense": "output",
    "output.LayerNorm": "norm",
}
_MAMBA = [  # transformers' MambaBlock (use_bias=False, use_conv_bias=True) → mumo.model.mamba.MambaBlock, same names
    "norm.weight",
    "mixer.A_log",
    "mixer.D",
    "mixer.in_proj.weight",
    "mixer.conv1d.weight",
    "mixer.conv1d.bias",
    "mixer.x_proj.weight",
    "mixer.dt_proj.weight",
    "mixer.dt_proj.bias",
    "mixer.out_proj.weight",
]
_GRAPH_LAYER = {  # the reference's GeoGraphLyaerMPNN → mumo.model.graph_encoder.GraphLayer
    "geo_conv.message_mlp.0": "mpnn_geo.message.0",
    "geo_conv.message_mlp.2": "mpnn_geo.message.2",
    "geo_conv.update_mlp.0": "mpnn_geo.update.0",
    "geo_conv.update_mlp.2": "mpnn_geo.update.2",
    "geo_gate": "gate_geo.proj",
    "graph_conv.message_mlp.0": "mpnn_atom.message.0",
    "graph_conv.message_mlp.2": "mpnn_atom.message.2",
    "graph_conv.update_mlp.0": "mpnn_atom.update.0",
    "graph_conv.update_mlp.2": "mpnn_atom.update.2",
    "lin_gate": "gate_atom.proj",
    "fusion_gate": "fusion.proj",
}
_EMBEDDERS = {"lin_a": "atom_encoder.proj", "lin_b": "bond_encoder.proj", "lin_c": "angle_encoder.0"}


def _rules() -> list[tuple[str, str | None]]:
    """(reference template, mumo template); None marks a tensor the reference allocates but never uses.

    Order matters only where two templates overlap: block 0's first graph layer is matched before the
    never-used copies in the other blocks.
    """
    ref, enc = "backbone.", "encoder."
    rules: list[tuple[str, str | None]] = [
        (ref + "embedding.weight", enc + "embedding.weight"),
        (ref + "layer_norm.weight", enc + "norm.weight"),
        (ref + "final_norm.weight", enc + "final_norm.weight"),
        *((f"{ref}input_mamba.{m}", f"{enc}mamba.{m}") for m in _MAMBA),
    ]
    seq, fus = f"{ref}layers.{{i}}.", f"{ref}graph_layers.{{i}}."
    seq_m, fus_m = f"{enc}seq_blocks.{{i}}.", f"{enc}fusion_blocks.{{i}}."
    rules += [
        (seq + "layer_norm.weight", seq_m + "norm.weight"),
        (fus + "layer_norm.weight", fus_m + "norm.weight"),
    ]
    rules += [(f"{seq}ssm_block.{m}", f"{seq_m}mamba.{m}") for m in _MAMBA]
    rules += [(f"{fus}ssm_block.{m}", f"{fus_m}mamba.{m}") for m in _MAMBA]
    attentions = [(seq + "attention", seq_m + "attn"), (fus + "attention", fus_m + "self_attn")]
    attentions += [(fus + "sequence_cross_attention", fus_m + "seq_from_graph")]
    attentions += [(fus + "graph_cross_attention", fus_m + "graph_from_seq")]
    for r, m in attentions:
        rules += [(f"{r}.{a}.{{p}}", f"{m}.{b}.{{p}}") for a, b in _ATTENTION.items()]
    rules += [(fus + "graph_map_layer.{p}", fus_m + "inject.{p}")]
    rules += [
        (f"{fus}graph_layers.{{j}}.{a}.{{p}}", f"{fus_m}graph_layers.{{j}}.{b}.{{p}}")
        for a, b in _GRAPH_LAYER.items()
    ]
    # every graph layer allocates an angle projection; only the first graph layer of block 0 applies it
    rules += [(fus + "graph_layers.{j}.lin_c.{p}", None)]
    first, embedding = f"{ref}graph_layers.0.first_graph_layer.", f"{enc}graph_embedding."
    rules += [(f"{first}{a}.{{p}}", f"{embedding}{b}.{{p}}") for a, b in _EMBEDDERS.items()]
    rules += [(f"{first}{a}.{{p}}", f"{embedding}layer.{b}.{{p}}") for a, b in _GRAPH_LAYER.items()]
    rules += [(f"{fus}first_graph_layer.{a}.{{p}}", None) for a in [*_EMBEDDERS, *_GRAPH_LAYER]]
    rules += [
        ("to_logits.0.{p}", "head.decoder.{p}"),  # MuMoPretrain
        ("pooler.dense.{p}", "head.pooler.cls.{p}"),  # MuMoFinetune
        ("pooler_b.dense.{p}", "head.pooler.last.{p}"),
        ("task_head.0.{p}", "head.out.{p}"),
    ]
    return rules


def _pattern(template: str) -> re.Pattern:
    regex = re.escape(template)
    for name, part in (("i", r"\d+"), ("j", r"\d+"), ("p", r"weight|bias")):
        regex = regex.replace(re.escape(f"{{{name}}}"), f"(?P<{name}>{part})")
    return re.compile(regex)


RULES = _rules()
_COMPILED = [(_pattern(r), m, None if m is None else _pattern(m), r) for r, m in RULES]


def reference_to_mumo(name: str) -> str | None:
    """The mumo name of a reference tensor, None if the reference never uses it; KeyError if unknown."""
    for ref_re, mumo_template, _, _ in _COMPILED:
        match = ref_re.fullmatch(name)
        if match:
            return None if mumo_template is None else mumo_template.format(**match.groupdict())
    raise KeyError(name)


def mumo_to_reference(name: str) -> str | None:
    """The reference tensor a mumo parameter is read from (None for mumo-only buffers: the target scaler)."""
    for _, _, mumo_re, ref_template in _COMPILED:
        match = mumo_re is not None and mumo_re.fullmatch(name)
        if match:
            return ref_template.format(**match.groupdict())
    return None


# --------------------------------------------------------------------------------------------------
# Reading a reference folder


class CheckpointImportError(ValueError):
    """A checkpoint mumo cannot import; the message names the file, key or shape."""


@dataclass
class NeverUsed:
    name: str
    shape: list[int]
    parameters: int


@dataclass
class ImportResult:
    model: MuMo  # the reference's weights loaded
    kind: str  # "pretrain" or "finetune"
    never_used: list[NeverUsed] = field(default_factory=list)
    dtypes: list[str] = field(default_factory=list)


def resolve_source(source: str, cache_dir: Path | None = None) -> tuple[Path, str | None]:
    """(local folder, hub revision or None): a folder as given, or `owner/name@<commit>` downloaded."""
    path = Path(source)
    if path.is_dir():
        return path, None
    match = _HUB_ID.fullmatch(source)
    if match is None:
        raise CheckpointImportError(
            f"SOURCE {source!r} is neither a folder nor a hub id of the form owner/name@<commit>"
        )
    if not match["revision"]:
        raise CheckpointImportError(
            f"SOURCE {source!r} is not a local folder; as a hub id it must be pinned to a commit for "
            f"reproducibility: {match['repo']}@<commit>"
        )
    if not _COMMIT.fullmatch(match["revision"]):
        raise CheckpointImportError(
            f"SOURCE {source!r}: {match['revision']!r} is a branch or tag, which moves; pin the hub id to a "
            f"commit for reproducibility: {match['repo']}@<40-hex commit> (the repository's commit history "
            "on the hub lists them)"
        )
    from huggingface_hub import snapshot_download

    folder = snapshot_download(
        match["repo"],
        revision=match["revision"],
        allow_patterns=HUB_FILES,
        cache_dir=str(cache_dir) if cache_dir is not None else None,
    )
    return Path(folder), match["revision"]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointImportError(f"{path}: missing") from None
    except json.JSONDecodeError as error:
        raise CheckpointImportError(f"{path}: not valid JSON ({error})") from None


def _load_weight_file(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)  # never unpickle arbitrary objects
    except Exception as error:  # a corrupt file or a pickle holding more than tensors: one line naming it
        raise CheckpointImportError(
            f"{path}: not readable as weights ({type(error).__name__}: {error})"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointImportError(f"{path}: not a state dict of tensors")
    return state


def weight_files(folder: Path) -> list[Path]:
    """The weight files of a folder, preferring safetensors; shards come from their index JSON."""
    for single, index in (
        ("model.safetensors", "model.safetensors.index.json"),
        ("pytorch_model.bin", "pytorch_model.bin.index.json"),
    ):
        if (folder / index).exists():
            weight_map = _read_json(folder / index).get("weight_map")
            if not isinstance(weight_map, dict) or not weight_map:
                raise CheckpointImportError(f"{folder / index}: no 'weight_map'")
            names = sorted(set(weight_map.values()))
            bad = [n for n in names if Path(n).name != n]
            if bad:
                raise CheckpointImportError(
                    f"{folder / index}: shard names must be plain file names, got {bad}"
                )
            absent = [n for n in names if not (folder / n).exists()]
            if absent:
                raise CheckpointImportError(f"{folder / index}: shards missing from the folder: {absent}")
            return [folder / index, *(folder / n for n in names)]
        if (folder / single).exists():
            return [folder / single]
    raise CheckpointImportError(
        f"{folder}: no weights (model.safetensors, pytorch_model.bin, or shards with their index JSON)"
    )


def load_reference_state(files: list[Path]) -> dict[str, torch.Tensor]:
    """All tensors of the weight files; with an index, each key must sit in the shard the index names."""
    if files[0].name.endswith(".index.json"):
        weight_map = _read_json(files[0])["weight_map"]
        state: dict[str, torch.Tensor] = {}
        for shard in files[1:]:
            for key, tensor in _load_weight_file(shard).items():
                if weight_map.get(key) != shard.name:
                    raise CheckpointImportError(
                        f"{shard}: tensor {key!r} is not listed for this shard in {files[0].name}"
                    )
                state[key] = tensor
        missing = sorted(set(weight_map) - set(state))
        if missing:
            raise CheckpointImportError(
                f"{files[0]}: tensors listed but absent from their shards: {missing[:5]}"
            )
        return state
    return _load_weight_file(files[0])


def _regexes(node: Any) -> list[str]:
    """Every `{"Regex": ...}` pattern in a tokenizer.json component, however deeply nested."""
    if isinstance(node, dict):
        found = [node["Regex"]] if isinstance(node.get("Regex"), str) else []
        return found + [r for value in node.values() for r in _regexes(value)]
    if isinstance(node, list):
        return [r for value in node for r in _regexes(value)]
    return []


def read_vocabulary(folder: Path) -> tuple[SmilesTokenizer, list[Path]]:
    """The authors' vocabulary with their ids: tokenizer.json (word-level) or vocab.txt (id = line number)."""
    path = folder / "tokenizer.json"
    if path.exists():
        document = _read_json(path)
        model = document.get("model") or {}
        vocab = model.get("vocab")
        if model.get("type") != "WordLevel" or not isinstance(vocab, dict):
            raise CheckpointImportError(
                f"{path}: expected a WordLevel model with a vocab, got {model.get('type')!r}"
            )
        other = sorted(set(_regexes(document.get("pre_tokenizer"))) - {SMILES_PATTERN})
        if other:
            raise CheckpointImportError(
                f"{path}: pre-tokenizer regex {other[0]!r} differs from mumo's SMILES pattern"
            )
        for added in document.get("added_tokens", []):
            if vocab.get(added["content"]) != added["id"]:
                raise CheckpointImportError(
                    f"{path}: added token {added['content']!r} has id {added['id']} outside the vocab"
                )
        by_id = {i: token for token, i in vocab.items()}
        if sorted(by_id) != list(range(len(vocab))):
            raise CheckpointImportError(f"{path}: vocabulary ids are not 0..{len(vocab) - 1} without gaps")
        tokens = [by_id[i] for i in range(len(vocab))]
    elif (folder / "vocab.txt").exists():
        path = folder / "vocab.txt"
        tokens = path.read_text().splitlines()
    else:
        raise CheckpointImportError(f"{folder}: no tokenizer (tokenizer.json or vocab.txt)")
    try:
        tokenizer = SmilesTokenizer(tokens)
    except ValueError as error:
        raise CheckpointImportError(f"{path}: {error}") from None
    extra = [
        folder / n for n in ("tokenizer_config.json", "special_tokens_map.json") if (folder / n).exists()
    ]
    return tokenizer, [path, *extra]


# --------------------------------------------------------------------------------------------------
# Configuration

#: Reference settings mumo hard-wires: any other value is refused rather than silently changed.
_FIXED = {
    "hidden_act": "silu",
    "use_bias": False,
    "use_conv_bias": True,
    "residual_in_fp32": True,
    "layer_norm_epsilon": 1e-8,  # the Mamba blocks' RMSNorm
    "layer_norm_eps": 1e-8,  # the attentions' LayerNorm
    "no_self_attention": False,
}
_POOLERS = {"bert": "cls", "bipooler": "bipooler", "mixpooler": "mixpooler"}


def _require(config: dict, key: str, path: Path) -> Any:
    if key not in config:
        raise CheckpointImportError(f"{path}: key {key!r} missing")
    return config[key]


def mumo_config(reference: dict, kind: str, outputs: int | None, path: Path) -> MuMoConfig:
    """The `paper`-preset MuMoConfig of a reference config.json (its quirks on, as the reference runs)."""
    for key, expected in _FIXED.items():
        value = reference.get(key, expected)
        if value != expected:
            raise CheckpointImportError(
                f"{path}: {key}={value!r} is not supported by mumo (expects {expected!r})"
            )
    layers = _require(reference, "num_hidden_layers", path)
    if layers % 2:
        raise CheckpointImportError(
            f"{path}: num_hidden_layers={layers} must be even (half sequence, half fusion)"
        )
    hidden = _require(reference, "hidden_size", path)
    rank = reference.get("time_step_rank", "auto")
    fields: dict[str, Any] = {
        "vocab_size": _require(reference, "vocab_size", path),
        "hidden_size": hidden,
        "n_seq_layers": layers // 2,
        "n_fusion_layers": layers // 2,
        "n_heads": _require(reference, "num_attention_heads", path),
        # transformers' MambaConfig: an explicit intermediate_size wins over expand * hidden_size
        "d_inner": reference.get("intermediate_size", int(reference.get("expand", 2) * hidden)),
        "d_state": _require(reference, "state_size", path),
        "d_conv": _require(reference, "conv_kernel", path),
        "dt_rank": -(-hidden // 16) if rank == "auto" else rank,
        "dt_min": reference.get("time_step_min", 1e-3),
        "dt_max": reference.get("time_step_max", 0.1),
        "dt_init_floor": reference.get("time_step_floor", 1e-4),
        "attention_dropout": _require(reference, "attention_probs_dropout_prob", path),
        "hidden_dropout": _require(reference, "hidden_dropout_prob", path),
        "use_geometry": bool(_require(reference, "geo_operation", path)),
        "use_fragments": bool(_require(reference, "brics", path)),
    }
    if kind == "pretrain":
        return get_preset("paper", **fields, head="pretrain")
    pool = reference.get("pool_method", "bert")
    if pool not in _POOLERS:
        raise CheckpointImportError(f"{path}: pool_method={pool!r}; mumo supports {sorted(_POOLERS)}")
    graph_sum = bool(reference.get("use_graph_embeddings", False))
    if graph_sum and pool != "bert":
        raise CheckpointImportError(
            f"{path}: use_graph_embeddings with pool_method={pool!r} does not run in the reference"
        )
    task_type, size = _require(reference, "task_type", path), reference.get("output_size", -1)
    if task_type == "classification":
        head, num_tasks, expected = ("classification", 1, 2) if size == -1 else ("multilabel", size, size)
    elif task_type == "regression":
        head, num_tasks = "regression", 1 if size == -1 else size
        expected = num_tasks
    else:
        raise CheckpointImportError(f"{path}: task_type={task_type!r}; expected classification or regression")
    if outputs != expected:
        raise CheckpointImportError(
            f"{path}: task_type={task_type!r} with output_size={size} means {expected} outputs, "
            f"but task_head.0.weight has {outputs}"
        )
    return get_preset(
        "paper", **fields, head=head, num_tasks=num_tasks, pooler=_POOLERS[pool], graph_sum=graph_sum
    )


# --------------------------------------------------------------------------------------------------
# Featurisation

#: What the authors' pipeline leaves to chance, or does in a way mumo's settings cannot express, in the
#: featurisation recorded for their models (docs/model.md §1.3, docs/reference-checkpoints.md).
AUTHORS_UNFIXED = {
    "seed": "their ETKDG embedding was not seeded (RDKit's randomSeed -1), so their coordinates differed from "
    "run to run; mumo seeds it (42), giving one of the conformers their code could have drawn",
    "max_embed_attempts": "their embedding was bounded by RDKit's default (maxIterations 0: about 10 attempts "
    "per atom); mumo's is a fixed count of attempts per strategy, its default kept",
    "fallbacks": "a molecule whose embedding or MMFF optimisation failed got 2D depiction coordinates in "
    "their code; mumo first tries random starting coordinates, ignoring smoothing failures and UFF, so such "
    "a molecule may get a 3D conformer here",
}


def authors_featurization() -> dict[str, Any]:
    """The featurisation of the authors' pipeline, as far as their code fixes it: the SMILES read as
    written with every fragment (the `paper` preset's tokens_from_raw_smiles; fragment policy "keep"), and
    their conformer recipe (10 ETKDG conformers, MMFF94 with 200 iterations, the lowest energy kept,
    explicit hydrogens below 50 heavy atoms, 2D above 400 atoms); what it leaves random is listed."""
    record = featurization("keep", asdict(ConformerConfig.paper()))
    return record | {
        "source": "the authors' pipeline (selmiss/MuMo)",
        "not_fixed_by_the_authors": AUTHORS_UNFIXED,
    }


# --------------------------------------------------------------------------------------------------
# Conversion


def convert(
    reference_config: dict, reference_state: dict[str, torch.Tensor], config_path: Path
) -> ImportResult:
    """A mumo model holding the reference's weights, mapped by `RULES`; errors name the key (and both shapes)."""
    if "to_logits.0.weight" in reference_state:
        kind, outputs = "pretrain", None
    elif "task_head.0.weight" in reference_state:
        kind, outputs = "finetune", reference_state["task_head.0.weight"].shape[0]
    else:
        raise CheckpointImportError(
            "weights hold neither to_logits.0.weight (MuMoPretrain) nor task_head.0.weight (MuMoFinetune)"
        )
    architectures = reference_config.get("architectures") or []
    expected_architecture = {"pretrain": "MuMoPretrain", "finetune": "MuMoFinetune"}[kind]
    if architectures and architectures != [expected_architecture]:
        raise CheckpointImportError(
            f"{config_path}: architectures={architectures}, but the weights are a {expected_architecture}"
        )
    config = mumo_config(reference_config, kind, outputs, config_path)
    model = MuMo(config)
    target = model.state_dict()

    state: dict[str, torch.Tensor] = {}
    never_used: list[NeverUsed] = []
    for name, tensor in reference_state.items():
        try:
            mapped = reference_to_mumo(name)
        except KeyError:
            raise CheckpointImportError(
                f"unknown key {name!r} {list(tensor.shape)} in the reference weights"
            ) from None
        if mapped is None:
            never_used.append(NeverUsed(name, list(tensor.shape), tensor.numel()))
            continue
        if mapped not in target:
            raise CheckpointImportError(
                f"unknown key {name!r}: maps to {mapped!r}, which this configuration does not have"
            )
        if tensor.shape != target[mapped].shape:
            raise CheckpointImportError(
                f"shape mismatch for {name!r}: reference {list(tensor.shape)}, "
                f"mumo {mapped!r} expects {list(target[mapped].shape)}"
            )
        state[mapped] = tensor.to(target[mapped].dtype)
    for name, tensor in target.items():
        if name in state:
            continue
        source = mumo_to_reference(name)
        if source is not None:
            raise CheckpointImportError(f"missing key {source!r} {list(tensor.shape)} (for mumo's {name!r})")
        state[name] = tensor  # mumo-only buffers: the regression target scaler (identity)
    model.load_state_dict(state)
    dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in reference_state.values()})
    return ImportResult(model, kind, never_used, dtypes)


def import_checkpoint(source: str, output_dir: Path, *, cache_dir: Path | None = None) -> Path:
    """Convert a reference checkpoint (folder or `owner/name@<commit>`) into a mumo model directory.

    Writes model.safetensors, config.json, vocab.json, task.json, featurization.json (the authors'
    featurisation: `authors_featurization`), then import.json, each atomically;
    import.json comes last, so its presence marks a complete import. `output_dir` is the import's own
    (`mumo.io.owned_output`): a folder holding other files is refused, a folder of an earlier import is
    emptied first (nothing stale, such as a featurization.json, survives). Returns `output_dir`.
    """
    folder, revision = resolve_source(source, cache_dir)
    config_path = folder / "config.json"
    reference_config = _read_json(config_path)
    files = weight_files(folder)
    tokenizer, tokenizer_files = read_vocabulary(folder)
    if len(tokenizer) != reference_config.get("vocab_size"):
        raise CheckpointImportError(
            f"{tokenizer_files[0]}: {len(tokenizer)} tokens, but {config_path} says "
            f"vocab_size={reference_config.get('vocab_size')}"
        )
    result = convert(reference_config, load_reference_state(files), config_path)
    model, config = result.model, result.model.config

    for item in result.never_used:
        logger.info(
            "never used by the reference: %s %s (%d parameters)", item.name, item.shape, item.parameters
        )
    total = sum(item.parameters for item in result.never_used)
    logger.info("%d never-used tensors (%d parameters) left out", len(result.never_used), total)

    if result.kind == "pretrain":
        task = ModelTask.encoder(PRETRAIN_MAX_LENGTH)
    else:  # the reference checkpoint does not name its tasks
        task_type = "regression" if config.head == "regression" else "classification"
        names = tuple(f"task{t}" for t in range(config.num_tasks))
        task = ModelTask(task_type, names, FINETUNE_MAX_LENGTH)
    notes = []
    if config.head == "regression":
        notes.append(
            "the reference keeps its target scaler outside the checkpoint: the imported scaler is the identity, "
            "so predictions are in the reference's normalised units"
        )
    inputs = [config_path, *files, *tokenizer_files]
    record = {
        "source": source if revision else str(folder.resolve()),
        "revision": revision,
        # what the hub served: huggingface_hub keeps a snapshot in a folder named by its commit
        "commit": folder.name if revision and _COMMIT.fullmatch(folder.name) else None,
        "kind": result.kind,
        "architecture": {"pretrain": "MuMoPretrain", "finetune": "MuMoFinetune"}[result.kind],
        "files": {p.name: sha256sum(p) for p in inputs},
        "source_dtypes": result.dtypes,
        "never_used": [asdict(item) for item in result.never_used],
        "never_used_parameters": total,
        "notes": notes,
        "mumo_version": mumo.__version__,
    }
    # the folder is the import's own: one holding anything else is refused, an earlier import's files all go
    with owned_output(output_dir, IMPORT_COMMAND, replace=True) as out:
        save_model(out, model, tokenizer, task, authors_featurization())
        write_json(record, out / IMPORT_RECORD)
    return Path(output_dir)
