"""Empirical findings (SPEC §2, trust level ``measured``): the real-model analysis, the training
experiments and the configuration zoo. They are measured, not proved, and report holds / does
not hold with their statistic next to the paper's statement."""

__all__ = [
    "breaking",
    "breaking_findings",
    "experiment_runner",
    "experiments",
    "finding",
    "head_findings",
    "head_types",
    "model_analysis",
    "model_findings",
    "models",
    "offset",
    "paired_tests",
    "table2",
    "table2_findings",
    "table2_rows",
    "table2_statistics",
    "table2_table",
    "task_experiments",
    "zoo",
]
