"""Claim modules, one per part of the paper; each exposes ``CLAIMS: list[Claim]``.

Modules are discovered in name order, so their prefixes (``s2_``, ``s3_``, ...) give the
order of the paper's sections in the verify table.
"""
