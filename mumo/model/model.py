"""MuMo (docs/model.md §2.1-2.5): a SMILES Mamba backbone into which the molecular graph is injected progressively.

    ids ─ Embedding ─ MambaBlock ─ RMSNorm ─ n_seq × SequenceBlock ─ n_fusion × FusionBlock(graph) ─ RMSNorm

No positional embedding: order comes only from the causal Mamba scan.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mumo.model.attention import Attention
from mumo.model.batch import MolBatch
from mumo.model.buckets import pad_to_buckets
from mumo.model.config import MuMoConfig
from mumo.model.graph_encoder import (
    GraphEmbedding,
    GraphLayer,
    GraphState,
    pack_atoms,
    sum_by_molecule,
    unpack_atoms,
)
from mumo.model.heads import PretrainHead, PropertyHead, TargetScaler
from mumo.model.mamba import MambaBlock, RMSNorm


def attention(config: MuMoConfig) -> Attention:
    return Attention(
        config.hidden_size,
        config.n_heads,
        config.attention_dropout,
        config.hidden_dropout,
        config.additive_mask_bug,
    )


class SequenceBlock(nn.Module):
    """h ← Attn(h, h) + h (a second residual on top of the attention's own); h ← MambaBlock(h); RMSNorm."""

    def __init__(self, config: MuMoConfig) -> None:
        super().__init__()
        self.attn, self.mamba = attention(config), MambaBlock(config)
        self.norm = RMSNorm(config.hidden_size, eps=1e-6)

    def forward(self, h: Tensor, token_mask: Tensor) -> Tensor:
        h = self.attn(h, h, token_mask) + h
        return self.norm(self.mamba(h, token_mask))


class FusionBlock(nn.Module):
    """Injection-enhanced attention (§2.5).

    1. r = h; h ← Attn_self(h, h) + r
    2. exchange with the graph, both directions from the pre-update states: with injection="attention"
       h ← Attn_seq←graph(h, atoms) and atoms ← Attn_graph←seq(atoms, h_old) (two modules; atoms packed to
       [B, n_max, H]); with injection="add" each stream plainly adds the other's molecule mean
       (atoms over the molecule, tokens over its real positions)
    3. two graph layers on the atoms
    4. h ← MambaBlock(h)
    5. global injection: h[:, 0] ← h[:, 0] + Linear_2H→H([Σ atoms; h[:, 0]])
    6. h ← RMSNorm(h + r)

    Without the graph (use_graph=False) only steps 1, 4 and 6 remain, and none of the graph modules exist.
    """

    def __init__(self, config: MuMoConfig) -> None:
        super().__init__()
        self.use_graph, self.injection = config.use_graph, config.injection
        self.self_attn = attention(config)
        if self.use_graph:
            if self.injection == "attention":
                self.seq_from_graph, self.graph_from_seq = attention(config), attention(config)
            self.graph_layers = nn.ModuleList(GraphLayer(config) for _ in range(2))
            self.inject = nn.Linear(2 * config.hidden_size, config.hidden_size)
        self.mamba = MambaBlock(config)
        self.norm = RMSNorm(config.hidden_size, eps=1e-6)

    def _exchange(self, h: Tensor, x: Tensor, token_mask: Tensor, batch: MolBatch) -> tuple[Tensor, Tensor]:
        if self.injection == "attention":
            atoms, node_mask = pack_atoms(x, batch)
            h_new = self.seq_from_graph(h, atoms, node_mask)
            atoms = self.graph_from_seq(atoms, h, token_mask)
            return h_new, unpack_atoms(atoms, batch)
        keep = token_mask[..., None].to(h.dtype)
        atom_mean = sum_by_molecule(x, batch) / batch.num_atoms.clamp(min=1)[:, None]
        token_mean = (h * keep).sum(dim=1) / keep.sum(dim=1)
        token_mean = F.pad(token_mean, (0, 0, 0, 1))  # padding atoms (molecule B) get a zero row
        return h + atom_mean[:, None].to(h.dtype), x + token_mean[batch.atom_batch].to(x.dtype)

    def forward(
        self, h: Tensor, token_mask: Tensor, graph: GraphState | None, batch: MolBatch
    ) -> tuple[Tensor, GraphState | None]:
        r = h
        h = self.self_attn(h, h, token_mask) + r
        if self.use_graph:
            h, x = self._exchange(h, graph.x, token_mask, batch)
            graph = graph.replace(x=x)
            for layer in self.graph_layers:
                graph = layer(graph, batch)
        h = self.mamba(h, token_mask)
        if self.use_graph:
            atoms_sum = sum_by_molecule(graph.x, batch).to(h.dtype)
            cls = h[:, 0] + self.inject(torch.cat([atoms_sum, h[:, 0]], dim=-1)).to(h.dtype)
            h = torch.cat([cls[:, None], h[:, 1:]], dim=1)
        return self.norm(h + r), graph


@dataclass
class EncoderOutput:
    hidden: Tensor  # [B, L, H]
    atoms: Tensor | None  # [N, H] final atom states (padding atoms included); None without the graph
    atoms_sum: Tensor | None  # [B, H] their sum per molecule


class MuMoEncoder(nn.Module):
    def __init__(self, config: MuMoConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        if config.init == "mamba":
            nn.init.normal_(self.embedding.weight, std=0.1)
        self.mamba = MambaBlock(config)
        self.norm = RMSNorm(config.hidden_size, eps=1e-6)
        self.seq_blocks = nn.ModuleList(SequenceBlock(config) for _ in range(config.n_seq_layers))
        self.graph_embedding = GraphEmbedding(config) if config.use_graph and config.n_fusion_layers else None
        self.fusion_blocks = nn.ModuleList(FusionBlock(config) for _ in range(config.n_fusion_layers))
        self.final_norm = RMSNorm(config.hidden_size, eps=1e-6)

    def forward(self, batch: MolBatch) -> EncoderOutput:
        mask = batch.token_mask
        h = self.norm(self.mamba(self.embedding(batch.tokens), mask))
        for block in self.seq_blocks:
            h = block(h, mask)
        graph = self.graph_embedding(batch) if self.graph_embedding is not None else None
        for block in self.fusion_blocks:
            h, graph = block(h, mask, graph, batch)
        if graph is None:
            return EncoderOutput(self.final_norm(h), None, None)
        return EncoderOutput(self.final_norm(h), graph.x, sum_by_molecule(graph.x, batch))


def encoder_parameters(config: MuMoConfig) -> int:
    """Parameters of the encoder of `config` (no head), counted on the meta device: no memory, no init."""
    with torch.device("meta"):
        return sum(p.numel() for p in MuMoEncoder(config).parameters())


class MuMo(nn.Module):
    """Encoder + the head named by `config.head`; regression models also carry their TargetScaler."""

    def __init__(self, config: MuMoConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = MuMoEncoder(config)
        self.head = PretrainHead(config) if config.head == "pretrain" else PropertyHead(config)
        self.target_scaler = TargetScaler(config.num_tasks) if config.head == "regression" else None
        # pad every batch to bucketed sizes before the encoder (mumo.model.buckets); set by maybe_compile
        self.bucketing = False

    def forward(self, batch: MolBatch) -> Tensor:
        """Logits: [B, L, vocab] (pretrain), [B, 2] (classification), [B, T] (multilabel; regression, scaled)."""
        length = batch.tokens.shape[1]
        if self.bucketing:
            batch = pad_to_buckets(batch, self.config)
        out = self.encoder(batch)
        logits = self.head(out.hidden, batch.token_mask, out.atoms_sum)
        return logits[:, :length] if self.config.head == "pretrain" else logits

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Masked-token labels [B, L] (pretrain) or task labels [B] / [B, T] with NaN where missing.

        Regression labels are given in original units and scaled here with the stored TargetScaler.
        """
        if self.target_scaler is not None:
            labels = self.target_scaler.transform(labels.to(logits.device).reshape(logits.shape))
        return self.head.loss(logits, labels)

    @torch.no_grad()
    def predict(self, batch: MolBatch) -> Tensor:
        """Task predictions: P(class 1), per-task probabilities, or regression values in original units."""
        prediction = self.head.predict(self(batch))
        return prediction if self.target_scaler is None else self.target_scaler.inverse_transform(prediction)
