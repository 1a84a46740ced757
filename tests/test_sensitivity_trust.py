"""Sobol sensitivity you can trust: reruns with the same seed are identical, confidence
intervals included, and a sample too small for its confidence intervals says so."""

from __future__ import annotations

import json

import pandas as pd

from cartelsim.analysis import sensitivity
from cartelsim.cli import main

CONF = ["S1_conf", "ST_conf"]


def test_same_seed_gives_identical_confidence_intervals():
    """Seed 0 included: SALib skips seeding its bootstrap for a falsy seed, which made the
    *_conf columns change between identical runs."""
    for seed in (0, 5):
        first = sensitivity.frame(sensitivity.sensitivity("pc2023", samples=16, seed=seed))
        again = sensitivity.frame(sensitivity.sensitivity("pc2023", samples=16, seed=seed))
        pd.testing.assert_frame_equal(first, again, check_exact=True)
        assert (first[CONF] > 0).any().all(), "the bootstrap ran"
    assert sensitivity.bootstrap_seed(0) != 0


def test_cli_reruns_write_identical_tables(tmp_path):
    """`cartelsim sensitivity` twice with the same --seed: the same sobol.csv and sobol.json."""
    outputs = []
    for folder in ("a", "b"):
        args = ["sensitivity", "pc2023", "--samples", "16", "--seed", "0"]
        assert main([*args, "--out", str(tmp_path / folder)]) == 0
        outputs.append(
            [(tmp_path / folder / name).read_bytes() for name in ("sobol.csv", "sobol.json")]
        )
    assert outputs[0] == outputs[1]
    saved = json.loads(outputs[0][1])
    assert saved["warnings"], "the warning is in sobol.json"


def test_tiny_sample_warns():
    """--samples 16 (the issue's case): too few base samples, and total indices whose
    confidence interval is wider than the index."""
    result = sensitivity.sensitivity("pc2023", samples=16, seed=0)
    warnings = result["warnings"]
    assert warnings[0].startswith("--samples 16: fewer than 64 base samples")
    wide = [w for w in warnings if "wider than the index" in w]
    assert wide and all("rerun with --samples 512 or more" in w for w in wide)
    assert all("\n" not in w for w in warnings)
    assert json.loads(json.dumps(result))["warnings"] == warnings


def test_enough_samples_do_not_warn():
    """At 512 base samples (4,608 runs) the pc2023 indices pass every check (the smallest
    total index is 1.37 times its confidence half-width, seed 0)."""
    assert sensitivity.sensitivity("pc2023", samples=512, seed=0)["warnings"] == []


def _indices(**values):
    base = {"S1": 0.3, "S1_conf": 0.05, "ST": 0.5, "ST_conf": 0.1}
    return {"deaths_total": {"rho": {**base, **values}, "s": {**base}}}


def test_each_rule_of_the_criterion():
    """The documented rules, one at a time, on hand-made indices."""
    assert sensitivity.trust_warnings(_indices(), 256) == []
    assert "fewer than 64" in sensitivity.trust_warnings(_indices(), 32)[0]
    (wide,) = sensitivity.trust_warnings(_indices(ST=0.05, ST_conf=0.08), 256)
    assert wide.startswith("deaths_total: the total index's confidence interval is wider")
    assert "rho ST 0.05 ± 0.08" in wide and "s ST" not in wide
    (high,) = sensitivity.trust_warnings(_indices(ST=1.3, ST_conf=0.1), 256)
    assert "above 1 beyond its confidence for rho ST 1.3 ± 0.1" in high
    (low,) = sensitivity.trust_warnings(_indices(S1=-0.2, S1_conf=0.05), 256)
    assert "below 0 beyond its confidence for rho S1 -0.2 ± 0.05" in low
    assert sensitivity.trust_warnings(_indices(S1=-0.02, S1_conf=0.05), 256) == []
    (nan,) = sensitivity.trust_warnings(_indices(ST=float("nan")), 256)
    assert nan == "deaths_total: the indices are not numbers for rho"
    # An output that does not depend on a parameter at all (exactly 0 +- 0) is not flagged.
    assert sensitivity.trust_warnings(_indices(S1=0.0, S1_conf=0.0, ST=0.0, ST_conf=0.0), 256) == []
