"""One function per pipeline step, file in → file out, every output written atomically.

The Snakemake scripts in workflow/scripts/ only unpack the `snakemake` object and call these, so every step
can be run and tested without Snakemake. One module per rule group, so that a job imports only what its step
needs: a cached structure shard or a split does not pay for scikit-learn, SciPy or matplotlib.
"""
