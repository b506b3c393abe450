"""Named non-neural baselines that share the runs' input and output formats with MuMo."""
