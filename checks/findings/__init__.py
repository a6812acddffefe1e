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
    "logit_tables",
    "model_analysis",
    "model_comparison",
    "model_findings",
    "model_identity",
    "model_reductions",
    "model_requirements",
    "model_statistics",
    "model_views",
    "models",
    "offset",
    "onset_substitute",
    "paired_tests",
    "table2",
    "table2_findings",
    "table2_rows",
    "table2_statistics",
    "table2_table",
    "task_experiments",
    "zoo",
]
