"""The validation report's table of largest errors says what is known of each cause."""

from __future__ import annotations

from swarmscale.report.diagnoses import diagnosis
from swarmscale.report.validation import logo_section
from swarmscale.validate.groups import GroupResult
from swarmscale.validate.runner import CaseResult


def _result(case_id: str, metric: str, predicted: float) -> CaseResult:
    return CaseResult(case_id, "training", metric, 100.0, predicted, "tp=1", True, "test")


def test_largest_errors_carry_their_diagnosis() -> None:
    known = _result("torchtitan-2024-llama3.1-8b-h100x8-fsdp-eager", "memory_gb", 160.0)
    speed = _result("torchtitan-2024-llama3.1-8b-h100x8-fsdp-eager", "tokens_per_s", 120.0)
    other = _result("made-up-case", "tokens_per_s", 90.0)
    outcome = [GroupResult("torchtitan-2024", [known, speed, other], {}, [])]
    table = "\n".join(logo_section(outcome))
    assert "| error | diagnosis |" in table
    assert f"| +60.0% | {diagnosis(known.id, 'memory_gb')} |" in table
    assert "caching allocator" in diagnosis(known.id, "memory_gb")
    # The memory diagnosis names one metric; the same case's speed is not explained by it.
    assert diagnosis(speed.id, "tokens_per_s") == "not diagnosed yet"
    assert "| -10.0% | not diagnosed yet |" in table
