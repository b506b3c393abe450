import subprocess
import sys

import numpy as np
import pytest
import torch

from mumo.chem import record as chem_record
from mumo.model.batch import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, MolBatch, collate, special_token_ids
from mumo.model.config import get_preset
from mumo.model.graph_encoder import GraphEmbedding


def test_collate_pads_right_and_offsets_indices(molecules, batch):
    tokens, records = molecules
    lengths = [len(t) for t in tokens]
    assert batch.tokens.shape == (len(tokens), max(lengths))
    for i, t in enumerate(tokens):
        assert batch.tokens[i, : len(t)].tolist() == t
        assert (batch.tokens[i, len(t) :] == 2).all()
        assert batch.token_mask[i].sum() == len(t)

    n = [len(r["x"]) for r in records]
    assert batch.num_atoms.tolist() == n and batch.max_atoms == max(n)
    assert batch.atom_batch.tolist() == [i for i, k in enumerate(n) for _ in range(k)]
    assert batch.atom_pos.tolist() == [p for k in n for p in range(k)]
    # molecule 1's edges are shifted by molecule 0's atoms, its angle edges by molecule 0's bonds
    e0, fe0 = records[0]["edge_index"].shape[1], records[0]["frag_edge_index"].shape[1]
    e1 = records[1]["edge_index"].shape[1]
    np.testing.assert_array_equal(batch.edge_index[:, e0 : e0 + e1].numpy(), records[1]["edge_index"] + n[0])
    t0, t1 = records[0]["ba_edge_index"].shape[1], records[1]["ba_edge_index"].shape[1]
    np.testing.assert_array_equal(
        batch.ba_edge_index[:, t0 : t0 + t1].numpy(), records[1]["ba_edge_index"] + e0
    )
    ft0 = records[0]["frag_ba_edge_index"].shape[1]
    ft1 = records[1]["frag_ba_edge_index"].shape[1]
    np.testing.assert_array_equal(
        batch.frag_ba_edge_index[:, ft0 : ft0 + ft1].numpy(), records[1]["frag_ba_edge_index"] + fe0
    )
    # every index points inside its own molecule / view
    assert (batch.atom_batch[batch.edge_index[0]] == batch.atom_batch[batch.edge_index[1]]).all()
    assert batch.ba_edge_index.max() < batch.edge_index.shape[1]
    assert batch.frag_ba_edge_index.max() < batch.frag_edge_index.shape[1]
    assert batch.ba_angle.dtype == torch.float32 and batch.ba_angle.dim() == 1
    assert batch.x.dtype == torch.long and batch.x.shape == (sum(n), 9)


def test_labels_and_mask(molecules):
    tokens, records = molecules
    labels = np.ones((len(records), 3), dtype=np.float32)
    labels[0, 1] = np.nan
    batch = collate(tokens, records, labels=labels)
    assert batch.labels.shape == (len(records), 3)
    assert batch.label_mask.sum() == labels.size - 1 and not batch.label_mask[0, 1]
    assert collate(tokens, records).labels is None


def test_to_moves_every_tensor_and_keeps_ints(batch):
    moved = batch.to("cpu")
    assert isinstance(moved, MolBatch) and moved.max_atoms == batch.max_atoms
    assert torch.equal(moved.edge_index, batch.edge_index)


def test_collate_rejects_mismatched_inputs(molecules):
    tokens, records = molecules
    with pytest.raises(ValueError, match="as many"):
        collate(tokens[:2], records)


def test_special_token_ids():
    assert special_token_ids(2364) == (0, 1, 2, 3, 2361, 2362, 2363)


def test_model_embeddings_are_sized_by_the_featuriser():
    """One definition of the feature sizes: the model's embedding tables hold every index RDKit produces."""
    from mumo.chem.conformer import ConformerConfig
    from mumo.chem.structure import featurize_canonical, parse_smiles

    assert (ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS) == (
        chem_record.ATOM_FEATURE_DIMS,
        chem_record.BOND_FEATURE_DIMS,
    )
    # charge +6 and a hypervalent sulphur reach misc slots; aromatic, ring, stereo and chirality the others
    smiles = ["C[C@H](N)C(=O)O", "F/C=C/c1ccncc1", "[Na+].[Cl-]", "CS(=O)(=O)F", "[C+6]"]
    records = [featurize_canonical(parse_smiles(s).canonical, ConformerConfig()).record for s in smiles]
    batch = collate([[1, 3]] * len(records), records)
    embed = GraphEmbedding(get_preset("tiny", atom_encoder="embedding"))
    atom_tables = [e.num_embeddings for e in embed.atom_encoder.embeddings]
    bond_tables = [e.num_embeddings for e in embed.bond_encoder.embeddings]
    assert batch.x.shape[1] == len(atom_tables) and batch.edge_attr.shape[1] == len(bond_tables)
    assert (batch.x.max(0).values < torch.tensor(atom_tables)).all()
    assert (batch.edge_attr.max(0).values < torch.tensor(bond_tables)).all()
    assert batch.x[:, 3].max() == atom_tables[3] - 1  # the +6 charge lands in the last (misc) slot


@pytest.mark.slow  # a fresh interpreter
def test_model_imports_without_rdkit():
    """The model layer reads structure records but must not need RDKit to import (it loads in torch-only jobs)."""
    code = (
        "import sys, mumo.model.batch, mumo.model.synthetic, mumo.model.graph_encoder, mumo.model.heads; "
        "sys.exit('rdkit' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
