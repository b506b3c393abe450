"""Applications: what a person runs on their own files, built from the pipeline's steps and the training
layer: `mumo train` on a CSV (`train_csv`), `mumo predict` with an ensemble (`predict_csv`) and `mumo cost`
(`cost`). Nothing below this layer imports it; `mumo.cli` is the thin console front end above it."""
