"""``ropelab list`` reads the registry's table of contents from data; the data is the registry, exactly."""

import dataclasses

from ropelab.checks import claims_index
from ropelab.checks.registry import REGISTRY


def test_the_stored_index_is_the_registry():
    assert claims_index.load() == claims_index.build(REGISTRY.values()), \
        "the claims index is stale: python -m ropelab.checks.claims_index writes it"


def test_a_reworded_or_missing_claim_is_a_difference():
    claims = list(REGISTRY.values())
    reworded = [dataclasses.replace(claims[0], statement=claims[0].statement + " (reworded)"), *claims[1:]]
    assert claims_index.load() != claims_index.build(reworded)
    assert claims_index.load() != claims_index.build(claims[1:])


def test_a_broken_index_file_is_named(tmp_path):
    path = tmp_path / "claims_index.json"
    path.write_text("{}")
    try:
        claims_index.load(path)
    except ValueError as err:
        assert str(path) in str(err) and "python -m ropelab.checks.claims_index" in str(err)
    else:
        raise AssertionError("a broken index loaded")
