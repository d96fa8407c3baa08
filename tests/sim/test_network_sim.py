"""Network simulation: conservation, determinism, and hand-computed scenarios per scheduler."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

import pytest

from swarmscale.catalog import Catalog, Network, default_catalog
from swarmscale.sim.engine import simulate
from swarmscale.sim.jobs import RateTable, SimJob, build_jobs
from swarmscale.sim.metrics import summarize
from swarmscale.sim.schedulers import SCHEDULERS, make_scheduler
from swarmscale.traces.jobs import load_job_trace
from tests.conftest import CliRunner

CATALOG = default_catalog()


@dataclass
class FixedRates(RateTable):
    """Hand-set tokens/s per chip kind for a whole job (any model, any GPU count)."""

    fixed: dict[str, float] = field(default_factory=dict)

    def tokens_per_s(self, model_id: str, chip_id: str, chips: int) -> float:
        return self.fixed.get(chip_id, 0.0)


def _network(sites: list[dict[str, object]]) -> Network:
    return Network.model_validate(
        {"id": "hand", "name": "hand", "source": "test", "kind": "estimate", "sites": sites}
    )


def _site(
    site_id: str, inventory: dict[str, int], price: float = 0.1, policy: str | None = None
) -> dict[str, object]:
    return {
        "id": site_id,
        "region": "r",
        "inventory": inventory,
        "pue": 1.0,
        "power_price_usd_per_kwh": price,
        "carbon_g_per_kwh": 100.0,
        "policy": policy,
    }


def _job(job_id: int, arrival: float, gpus: int, tokens: float) -> SimJob:
    return SimJob(job_id, arrival, gpus, "llama3-8b", tokens, None)


RATES = FixedRates(CATALOG, fixed={"h100-sxm": 2.0, "ascend-910b": 1.0})


def test_fifo_hand_computed() -> None:
    """8 H100s, rate 2 tokens/s per job. Job 0 (8 GPUs, 20 tokens) runs 0-10 s; job 1
    (8 GPUs, 10 tokens, arrives at 1 s) waits until 10 s and runs to 15 s."""
    network = _network([_site("a", {"h100-sxm": 8})])
    jobs = [_job(0, 0.0, 8, 20.0), _job(1, 1.0, 8, 10.0)]
    result = simulate(CATALOG, network, jobs, make_scheduler("fifo"), RATES)
    assert [(j.start_s, j.finish_s) for j in result.jobs] == [(0.0, 10.0), (10.0, 15.0)]


def test_sjf_runs_the_short_job_first() -> None:
    network = _network([_site("a", {"h100-sxm": 8})])
    jobs = [_job(0, 0.0, 8, 2.0), _job(1, 0.5, 8, 40.0), _job(2, 0.5, 8, 4.0)]
    result = simulate(CATALOG, network, jobs, make_scheduler("sjf"), RATES)
    starts = {j.id: j.start_s for j in result.jobs}
    assert starts[2] == pytest.approx(1.0) and starts[1] == pytest.approx(3.0)


def test_hetero_puts_jobs_on_their_fastest_kind() -> None:
    """FIFO takes the first kind listed (ascend-910b sorts first); hetero the faster H100."""
    network = _network([_site("a", {"ascend-910b": 8, "h100-sxm": 8})])
    jobs = [_job(0, 0.0, 8, 20.0)]
    fifo = simulate(CATALOG, network, copy.deepcopy(jobs), make_scheduler("fifo"), RATES)
    hetero = simulate(CATALOG, network, copy.deepcopy(jobs), make_scheduler("hetero"), RATES)
    assert fifo.jobs[0].kind == "ascend-910b" and fifo.jobs[0].finish_s == pytest.approx(20.0)
    assert hetero.jobs[0].kind == "h100-sxm" and hetero.jobs[0].finish_s == pytest.approx(10.0)


def test_energy_scheduler_picks_the_cheap_site() -> None:
    network = _network([_site("dear", {"h100-sxm": 8}, 0.2), _site("cheap", {"h100-sxm": 8}, 0.05)])
    result = simulate(CATALOG, network, [_job(0, 0.0, 8, 20.0)], make_scheduler("energy"), RATES)
    assert result.jobs[0].site == 1
    fifo = simulate(CATALOG, network, [_job(0, 0.0, 8, 20.0)], make_scheduler("fifo"), RATES)
    assert result.energy_cost_usd == pytest.approx(fifo.energy_cost_usd / 4)


def test_policy_aware_scheduling_never_violates() -> None:
    """Beijing's 70% rule: a foreign-chip start that would leave <70% of busy chips domestic
    is a violation; the policy-aware run makes none."""
    network = _network([_site("a", {"h100-sxm": 8, "ascend-910b": 8}, policy="cn-beijing-70")])
    jobs = [_job(i, float(i), 8, 100.0) for i in range(3)]
    blind = simulate(CATALOG, network, copy.deepcopy(jobs), make_scheduler("hetero"), RATES)
    aware = simulate(
        CATALOG, network, copy.deepcopy(jobs), make_scheduler("hetero"), RATES, policy_aware=True
    )
    assert blind.violations >= 1 and aware.violations == 0


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_conservation_on_a_real_trace(name: str, catalog: Catalog) -> None:
    """Every job finishes or is reported unfinished; busy chip-seconds never exceed capacity."""
    network = catalog.network("test-3-sites")
    rates = RateTable(catalog)
    jobs = build_jobs(
        load_job_trace("philly").head(400).scaled(20),
        rates,
        {"h100-sxm", "ascend-910b", "a100-sxm-80gb", "ascend-910c"},
    )
    result = simulate(catalog, network, jobs, make_scheduler(name), rates)
    summary = summarize(result)
    assert summary["finished"] + summary["unfinished"] == 400
    span = max(j.finish_s for j in result.jobs if j.started)
    for key, busy in result.busy_chip_s.items():
        assert busy <= result.capacity[key] * span * (1 + 1e-9)
    in_use = [n for _, n in result.timeline]
    assert min(in_use) >= 0 and max(in_use) <= sum(result.capacity.values())
    for job in result.jobs:
        if job.started:
            assert job.start_s >= job.arrival_s and job.finish_s > job.start_s


def test_same_inputs_same_answer(catalog: Catalog) -> None:
    network = catalog.network("test-3-sites")
    rates = RateTable(catalog)
    jobs = build_jobs(
        load_job_trace("alibaba").head(300).scaled(50),
        rates,
        {"h100-sxm", "ascend-910b", "a100-sxm-80gb", "ascend-910c"},
    )
    first = summarize(
        simulate(catalog, network, copy.deepcopy(jobs), make_scheduler("hetero"), rates)
    )
    second = summarize(
        simulate(catalog, network, copy.deepcopy(jobs), make_scheduler("hetero"), rates)
    )
    assert first == second


def test_simulate_cli(run_cli: CliRunner, tmp_path: object) -> None:
    code, out, _ = run_cli(
        [
            "simulate",
            "--network",
            "test-3-sites",
            "--trace",
            "philly",
            "--jobs",
            "200",
            "--scheduler",
            "energy",
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(out)["summary"]
    assert summary["jobs"] == 200 and summary["violations"] >= 0


def test_unknown_scheduler_exits_2(run_cli: CliRunner) -> None:
    code, _, err = run_cli(["simulate", "--network", "test-3-sites", "--scheduler", "magic"])
    assert code == 2 and "fifo, sjf, hetero, energy" in err
