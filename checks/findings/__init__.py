"""Empirical findings (SPEC §2, trust level ``measured``): the real-model analysis, the training
experiments and the configuration zoo. They are measured, not proved, and report holds / does
not hold with their statistic next to the paper's statement."""
