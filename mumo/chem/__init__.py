"""RDKit structure stage: SMILES tokenizer, seeded conformers, atom/bond/angle graphs, BRICS fragments, store."""
