"""Graph side of the Structured Fusion Pipeline (docs/model.md §2.4): atoms, directed bonds and bond angles.

This module encodes the graphs; `mumo.chem.graph` builds them from a molecule (the featurisation).

Message passing uses `Tensor.index_add` (sum over incoming edges) rather than torch_geometric: it is the one op
needed, it is differentiable, runs on the meta device for parameter counts, and is deterministic on CUDA under
`torch.use_deterministic_algorithms`. Packing atoms to [B, n_max, H] uses the batch's precomputed atom
positions for the same reason. torch_geometric's `scatter(reduce="sum")` would compute the same thing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mumo.model.batch import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, MolBatch
from mumo.model.config import MuMoConfig


def mlp(in_dim: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden))


def sum_by_index(src: Tensor, index: Tensor, size: int) -> Tensor:
    """out[i] = Σ_{k: index[k] = i} src[k], out of place (rows with no entry are 0)."""
    return src.new_zeros(size, src.shape[1]).index_add(0, index, src)


def sum_by_molecule(x: Tensor, batch: MolBatch) -> Tensor:
    """Atom states [N, H] summed per molecule → [B, H].

    One spare row B collects the atoms that belong to no molecule (the padding of `mumo.model.buckets`,
    whose `atom_batch` is B) and is dropped; an unpadded batch leaves it empty.
    """
    return sum_by_index(x, batch.atom_batch, batch.batch_size + 1)[:-1]


class MPNN(nn.Module):
    """message = MLP([v_dst; v_src; e]) summed over incoming edges; update = MLP([v; Σ messages])."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.message = mlp(3 * hidden, hidden)
        self.update = mlp(2 * hidden, hidden)

    def forward(self, v: Tensor, edge_index: Tensor, e: Tensor) -> Tensor:
        src, dst = edge_index
        messages = self.message(torch.cat([v[dst], v[src], e], dim=-1))
        return self.update(torch.cat([v, sum_by_index(messages, dst, v.shape[0]).to(v.dtype)], dim=-1))


class Gate(nn.Module):
    """β·a + (1−β)·b with β = σ(W[a; b; a−b]), or σ(W[a; b]) without the difference (the fusion gate)."""

    def __init__(self, hidden: int, with_difference: bool = True) -> None:
        super().__init__()
        self.with_difference = with_difference
        self.proj = nn.Linear((3 if with_difference else 2) * hidden, hidden)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        inputs = [a, b, a - b] if self.with_difference else [a, b]
        beta = torch.sigmoid(self.proj(torch.cat(inputs, dim=-1)))
        return b + beta * (a - b)


@dataclass(frozen=True)
class GraphState:
    """Atom states x [N, H]; bond states of the full and fragment views; their angle embeddings (fixed)."""

    x: Tensor
    bond: Tensor
    angle: Tensor | None  # None without geometry
    frag_bond: Tensor | None  # None without fragments
    frag_angle: Tensor | None

    def replace(self, **changes: Tensor) -> GraphState:
        return dataclasses.replace(self, **changes)


class GraphLayer(nn.Module):
    """One step of the pipeline: 3D bond update, 2D atom update, the same on the fragment view, fusion gate.

    Every step runs on every batch: a molecule without bonds or angles gets no messages, and its update sees
    zeros. With the quirk `skip_edgeless_graph_steps` (the paper, docs/model.md §2.4), a step whose edges are absent
    from the whole batch is skipped instead, so such a molecule's encoding depends on its batch.
    """

    def __init__(self, config: MuMoConfig) -> None:
        super().__init__()
        hidden = config.hidden_size
        self.use_geometry, self.use_fragments = config.use_geometry, config.use_fragments
        self.skip_edgeless = config.skip_edgeless_graph_steps
        if self.use_geometry:
            self.mpnn_geo, self.gate_geo = MPNN(hidden), Gate(hidden)
        self.mpnn_atom, self.gate_atom = MPNN(hidden), Gate(hidden)
        if self.use_fragments:
            self.fusion = Gate(hidden, with_difference=False)

    def _view(self, x: Tensor, bond: Tensor, angle: Tensor | None, edge_index: Tensor, ba_edge_index: Tensor):
        """Steps 1-2 on one view (full or fragment): bonds over the bond-angle graph, then atoms over bonds."""
        if self.use_geometry and (ba_edge_index.numel() or not self.skip_edgeless):
            bond = self.gate_geo(bond, torch.relu(self.mpnn_geo(bond, ba_edge_index, angle)))
        if edge_index.numel() or not self.skip_edgeless:
            x = self.gate_atom(x, torch.relu(self.mpnn_atom(x, edge_index, bond)))
        return bond, x

    def forward(self, state: GraphState, batch: MolBatch) -> GraphState:
        bond, x = self._view(state.x, state.bond, state.angle, batch.edge_index, batch.ba_edge_index)
        if not self.use_fragments:
            return state.replace(x=x, bond=bond)
        frag_bond, x_frag = self._view(
            state.x, state.frag_bond, state.frag_angle, batch.frag_edge_index, batch.frag_ba_edge_index
        )
        return state.replace(x=self.fusion(x, x_frag), bond=bond, frag_bond=frag_bond)


class FeatureEncoder(nn.Module):
    """Integer feature vectors → H: ReLU(Linear(indices as float)) (the paper) or a sum of per-feature embeddings."""

    def __init__(self, dims: tuple[int, ...], hidden: int, kind: str) -> None:
        super().__init__()
        self.kind = kind
        if kind == "linear":
            self.proj = nn.Linear(len(dims), hidden)
        else:
            self.embeddings = nn.ModuleList(nn.Embedding(n, hidden) for n in dims)

    def forward(self, features: Tensor) -> Tensor:
        if self.kind == "linear":
            return torch.relu(self.proj(features.float()))
        return sum(emb(features[:, i]) for i, emb in enumerate(self.embeddings))


class GraphEmbedding(nn.Module):
    """The first graph layer: embed atoms (9→H), bonds (3→H) and angles (1→H), then run one GraphLayer.

    The same three maps embed the fragment view. Built once per model (the paper allocates one per
    FusionBlock and uses only the first).
    """

    def __init__(self, config: MuMoConfig) -> None:
        super().__init__()
        hidden = config.hidden_size
        self.use_geometry, self.use_fragments = config.use_geometry, config.use_fragments
        self.atom_encoder = FeatureEncoder(ATOM_FEATURE_DIMS, hidden, config.atom_encoder)
        self.bond_encoder = FeatureEncoder(BOND_FEATURE_DIMS, hidden, config.atom_encoder)
        if self.use_geometry:
            self.angle_encoder = nn.Sequential(nn.Linear(1, hidden), nn.ReLU())
        self.layer = GraphLayer(config)

    def _angles(self, angle: Tensor) -> Tensor | None:
        return self.angle_encoder(angle[:, None]) if self.use_geometry else None

    def forward(self, batch: MolBatch) -> GraphState:
        fragments = self.use_fragments
        state = GraphState(
            x=self.atom_encoder(batch.x),
            bond=self.bond_encoder(batch.edge_attr),
            angle=self._angles(batch.ba_angle),
            frag_bond=self.bond_encoder(batch.frag_edge_attr) if fragments else None,
            frag_angle=self._angles(batch.frag_ba_angle) if fragments else None,
        )
        return self.layer(state, batch)


def pack_atoms(x: Tensor, batch: MolBatch) -> tuple[Tensor, Tensor]:
    """Atom states [N, H] → [B, n_max, H] zero-padded, and the node mask [B, n_max].

    Padding atoms (molecule B) land in a spare row B that is dropped, as in `sum_by_molecule`.
    """
    dense = x.new_zeros(batch.batch_size + 1, batch.max_atoms, x.shape[-1])
    dense = dense.index_put((batch.atom_batch, batch.atom_pos), x)[:-1]
    node_mask = torch.arange(batch.max_atoms, device=x.device) < batch.num_atoms[:, None]
    return dense, node_mask


def unpack_atoms(dense: Tensor, batch: MolBatch) -> Tensor:
    """[B, n_max, H] → [N, H]; padding atoms (molecule B) read a zero row."""
    return F.pad(dense, (0, 0, 0, 0, 0, 1))[batch.atom_batch, batch.atom_pos]
