"""Benchmarks of sklearn-mdtree: each script compares against a baseline in the same run."""
