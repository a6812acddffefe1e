"""Timing scripts of ``ropelab bench``: each prints ratios against baselines measured in the same run."""
