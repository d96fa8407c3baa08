"""The claims report: every claim answered, sourced and given a verdict."""

from __future__ import annotations

import json

from swarmscale.catalog import Catalog
from swarmscale.report.claims import claims_markdown, evaluate_claims
from tests.conftest import CliRunner


def test_every_claim_is_answered_with_sources(catalog: Catalog) -> None:
    results = evaluate_claims(catalog)
    ids = {r.id for r in results}
    assert {
        "ascend-910c-vs-h100-inference",
        "mlu590-vs-a100",
        "h800-vs-h100-training",
        "older-chips-per-top-chip",
        "cloudmatrix-384-vs-gb200-nvl72",
    } <= ids
    for result in results:
        assert result.seed.startswith("shared/seeds/")
        assert result.sources and result.inputs and result.answer
        if result.low is not None and result.high is not None:
            assert result.low <= result.high
    verdicts = {r.id: r.verdict for r in results}
    assert verdicts["h800-vs-h100-training"] == "does not hold"
    assert verdicts["mlu590-vs-a100"] == "undetermined"
    text = claims_markdown(results, "swarmscale claims")
    assert text.count("## ") == len(results)


def test_claims_cli_json(run_cli: CliRunner) -> None:
    code, out, _ = run_cli(["claims", "--json"])
    assert code == 0 and len(json.loads(out)["claims"]) >= 5


def test_swarm_claim_agrees_with_equiv(catalog: Catalog, run_cli: CliRunner) -> None:
    """The claims page and `swarmscale equiv` run one computation: same count, same ratios."""
    claim = next(r for r in evaluate_claims(catalog) if r.id == "swarm-matches-top-nvidia")
    (computed,) = claim.equivalences
    code, out, _ = run_cli(
        [
            "equiv",
            "--ref",
            "h100-sxm:16384@hgx-h100-8",
            "--candidate",
            "ascend-910c",
            "--system",
            "cloudmatrix-384",
            "--model",
            "llama3-405b",
            "--seq",
            "8192",
            "--global-batch-tokens",
            str(2048 * 8192),
            "--json",
        ]
    )
    assert code == 0
    equiv = json.loads(out)
    assert equiv == computed.as_dict()
    assert equiv["candidate_chips"] % 384 != 0 and equiv["time_ratio"] <= 1.0
    assert f"{equiv['candidate_chips']:,} 910C" in claim.answer
    assert f"{equiv['power_ratio']:.2f}x the IT power" in claim.answer
    assert claim.value == equiv["chips_ratio"]
