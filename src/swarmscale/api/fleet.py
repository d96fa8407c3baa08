"""What to buy: the cheapest (or least-energy, or fastest within a budget) fleet that does a
workload under a sourcing policy, checked by the full plan search, with each rule's cost."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from swarmscale.api.inputs import FleetInput, InputError, describe_errors
from swarmscale.catalog import Catalog, Policy
from swarmscale.catalog.loader import load_fleet_request, load_policy
from swarmscale.catalog.schemas import FleetRequest, WorkloadSpec
from swarmscale.fleet.explain import explain_infeasible, shadow_costs
from swarmscale.fleet.optimize import FleetObjective, InfeasibleFleetError, Offer, Site, solve
from swarmscale.fleet.workloads import (
    FleetAnswer,
    ServingWork,
    TrainingLadder,
    TrainingWork,
    build_problem,
)

FASTEST_STEPS = 7  # bisection steps on the deadline (x256 range to within ~5%)
PARETO_FACTORS = (0.35, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0)
FLEET_FLAGS = {"model": "--model", "tokens": "--tokens", "deadline_days": "--deadline-days"}


def resolve_policy(catalog: Catalog, name: str) -> Policy:
    """A catalog policy id, or a YAML file holding exactly one policy."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        return load_policy(path, catalog)
    return catalog.policy(name)


def fleet_request(query: FleetInput, workload: Path | None = None) -> FleetRequest:
    """The request file when one is given, else a training job from the query's fields."""
    if workload is not None:
        return load_fleet_request(workload)
    if query.model is None or query.tokens is None or query.deadline_days is None:
        raise InputError("give --workload FILE, or --model, --tokens and --deadline-days")
    fields = {"model": query.model, "tokens": query.tokens, "deadline_days": query.deadline_days}
    try:
        spec = WorkloadSpec(kind="training", **fields)
    except ValidationError as exc:
        raise InputError(describe_errors(WorkloadSpec, exc, FLEET_FLAGS)) from exc
    return FleetRequest(workload=spec)


def _work(spec: WorkloadSpec) -> TrainingWork | ServingWork:
    if spec.kind == "training":
        assert spec.tokens is not None and spec.deadline_days is not None
        return TrainingWork(
            spec.model, spec.tokens, spec.deadline_days, spec.seq_len, spec.batch_tokens
        )
    assert spec.rate and spec.input_len and spec.output_len
    return ServingWork(
        spec.model,
        spec.rate,
        spec.input_len,
        spec.output_len,
        spec.ttft_s,
        spec.tpot_s,
        spec.precision,
        spec.hours,
    )


def fleet_answer(
    catalog: Catalog,
    request: FleetRequest,
    policy: Policy,
    objective: str,
    budget_usd: float | None = None,
) -> dict[str, Any]:
    """Solve one fleet request.

    `time` finds the earliest deadline that a fleet costing at most `budget_usd` meets under
    the full plan search (bisection on the deadline), and answers with that fleet."""
    return _Solver(catalog, request, policy, objective, budget_usd).answer()


class _Solver:
    """One request's problem, built once; training deadlines share one `TrainingLadder` (its
    rungs do not depend on the deadline), so the Pareto front and the time objective's
    bisection cost about one solve instead of one per deadline."""

    def __init__(
        self,
        catalog: Catalog,
        request: FleetRequest,
        policy: Policy,
        objective: str,
        budget_usd: float | None,
    ) -> None:
        if objective not in ("cost", "energy", "time"):
            raise InputError(f"objective: must be cost, time or energy, got {objective!r}")
        spec = request.workload
        if objective == "time" and (spec.kind != "training" or budget_usd is None):
            raise InputError("objective time needs a training workload and a budget (--budget)")
        self.catalog, self.policy, self.objective = catalog, policy, objective
        self.work = _work(spec)
        offers, sites = _offers_and_sites(catalog, request)
        site_policies = {s.id: [catalog.policy(p) for p in s.policies] for s in sites}
        milp_objective: FleetObjective = "energy" if objective == "energy" else "cost"
        problem = build_problem(
            catalog, self.work, offers, sites, policy, milp_objective, site_policies
        )
        self.problem = dataclasses.replace(problem, cost_cap=budget_usd)
        self.ladder = (
            TrainingLadder(catalog, self.work, self.problem)
            if isinstance(self.work, TrainingWork)
            else None
        )

    def answer(self) -> dict[str, Any]:
        if self.objective == "time":
            return {**self._describe(self._fastest()), "objective": "time"}
        if self.ladder is None:
            solved = FleetAnswer(self.problem, solve(self.catalog, self.problem), None, None, 1)
            return self._describe(solved)
        return self._describe(self._at(self.work.deadline_days))  # type: ignore[union-attr]

    def _at(self, days: float) -> FleetAnswer:
        """The answer at deadline `days`; an infeasible one explains which rules conflict."""
        assert self.ladder is not None
        try:
            return self.ladder.answer(days)
        except InfeasibleFleetError as exc:
            failed = exc.problem or self.problem
            raise InfeasibleFleetError(
                f"{exc}. {explain_infeasible(self.catalog, failed)}", failed, exc.deadline_days
            ) from exc

    def _fastest(self) -> FleetAnswer:
        """Bisect (geometrically) for the earliest deadline met within the budget."""
        assert isinstance(self.work, TrainingWork) and self.ladder is not None
        low, high = self.work.deadline_days / 16.0, self.work.deadline_days * 16.0
        try:
            best = self.ladder.answer(high)
        except InfeasibleFleetError as exc:
            raise InfeasibleFleetError(
                f"no fleet within ${self.problem.cost_cap:,.0f} trains the job within "
                f"{high:g} days under {self.policy.id}"
            ) from exc
        for _ in range(FASTEST_STEPS):
            middle = (low * high) ** 0.5
            try:
                best, high = self.ladder.answer(middle), middle
            except InfeasibleFleetError:
                low = middle
        return best

    def pareto(self) -> list[dict[str, float]]:
        """Cost against training time: the answer at deadlines from 0.35x to 4x the request's."""
        if self.ladder is None or not isinstance(self.work, TrainingWork):
            raise InputError(
                "--pareto traces cost against training time; it needs a training workload"
            )
        front = []
        for factor in PARETO_FACTORS:
            days = self.work.deadline_days * factor
            try:
                answer = self.ladder.answer(days)
            except InfeasibleFleetError:
                continue
            solution = answer.solution
            assert answer.days is not None  # a training answer is timed by the plan search
            front.append(
                {
                    "deadline_days": days,
                    "days": answer.days,
                    "cost_usd": solution.cost_usd,
                    "chips": sum(item.count for item in solution.items),
                    "energy_mwh": solution.energy_mwh,
                }
            )
        return front

    def _describe(self, solved: FleetAnswer) -> dict[str, Any]:
        shadows = shadow_costs(self.catalog, solved.problem, solved.solution.cost_usd)
        return {
            "policy": self.policy.id,
            "objective": self.objective,
            **solved.as_dict(),
            "unusable": self.problem.unusable,
            "rule_costs": [effect.__dict__ for effect in shadows],
        }


def _offers_and_sites(catalog: Catalog, request: FleetRequest) -> tuple[list[Offer], list[Site]]:
    offers = [
        Offer(o.chip, o.available, o.price_usd, o.lead_time_days, o.system) for o in request.offers
    ] or [Offer(chip) for chip in catalog.chips]
    sites = [
        Site(s.id, s.power_cap_mw, s.energy_price_usd_per_kwh, s.pue, s.policies)
        for s in request.sites
    ] or [Site()]
    return offers, sites


def fleet_payload(
    catalog: Catalog,
    request: FleetRequest,
    policy: Policy,
    objective: str,
    budget: float | None,
    pareto: bool,
) -> dict[str, Any]:
    """The fleet, and its cost-days front when asked."""
    solver = _Solver(catalog, request, policy, objective, budget)
    result = solver.answer()
    return {**result, "pareto": solver.pareto() if pareto else []}


def fleet_inputs(
    request: FleetRequest, policy: Policy, objective: str, budget: float | None
) -> dict[str, Any]:
    """What a stored fleet run records as its inputs."""
    return {
        "request": request.model_dump(mode="json"),
        "policy": policy.id,
        "objective": objective,
        "budget": budget,
    }
