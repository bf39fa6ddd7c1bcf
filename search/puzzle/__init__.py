"""Puzzle-style layer-wise search: the block library (what each layer's block choice costs) and its exact
MIP."""
