"""Discrete-event replay of a request trace through serving replicas with continuous batching.

Each replica runs iterations back to back (Sarathi/vLLM-style chunked prefill): every iteration
advances each running sequence by one token and, while prompts wait and the KV cache has room,
also prefills up to `PREFILL_TOKEN_BUDGET` prompt tokens in the same pass over the weights, so
a long prompt spans several iterations and never stalls decoding. A prompt's first token comes
out of the iteration that finishes its prefill. A router sends each arrival to the replica with
the fewest requests.

Exact and fast: a decode step with batch B and C context tokens takes A[B] + K x C (weights and
elementwise work tabulated per batch size; KV reads linear in context), so a run of pure decode
steps between two events has a closed-form duration and is one event. Events are arrivals,
prefill iterations and completions, not tokens: the 19,366-request Azure trace replays in
seconds.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from swarmscale.perf.inference import ReplicaModel
from swarmscale.perf.serving import PREFILL_TOKEN_BUDGET
from swarmscale.traces import RequestTrace

PREFILL_GRID_POINTS = 96


@dataclass(frozen=True)
class StepCosts:
    """Tabulated iteration costs of one replica (see module docstring)."""

    decode_base: list[float]
    decode_per_context: float
    prefill_tokens: NDArray[np.float64]
    prefill_base: NDArray[np.float64]
    prefill_per_square: float
    max_batch: int
    kv_tokens: float

    @classmethod
    def of(cls, replica: ReplicaModel, max_prompt: int) -> StepCosts:
        capacity = replica.kv_capacity_tokens * replica.plan.attention_groups
        max_batch = max(1, min(int(capacity), 8192))
        batches = np.arange(0, max_batch + 1, dtype=float)
        base = replica.decode_step_s(np.maximum(batches, 1.0), 0.0)
        probe = 1e6
        per_context = float(replica.decode_step_s(1.0, probe) - replica.decode_step_s(1.0, 0.0))
        tokens = np.unique(
            np.geomspace(1, max(max_prompt, PREFILL_TOKEN_BUDGET), PREFILL_GRID_POINTS).round()
        )
        prefill = replica.prefill_s(tokens, 0.0, 1.0)
        square = float(replica.prefill_s(1.0, probe) - replica.prefill_s(1.0, 0.0)) / probe
        return cls(
            list(map(float, base)),
            per_context / probe,
            tokens,
            np.asarray(prefill),
            square,
            max_batch,
            capacity,
        )

    def decode_run(self, batch: int, context: float, steps: int) -> float:
        """Seconds for `steps` decode steps of `batch` sequences starting at `context` tokens."""
        return steps * self.decode_base[batch] + self.decode_per_context * (
            steps * context + batch * steps * (steps - 1) / 2.0
        )

    def steps_within(self, batch: int, context: float, seconds: float) -> int:
        """Fewest whole steps whose run lasts at least `seconds` (at least one)."""
        a = self.decode_per_context * batch / 2.0
        b = self.decode_base[batch] + self.decode_per_context * (context - batch / 2.0)
        if a <= 0:
            return max(1, math.ceil(seconds / b))
        root = (-b + math.sqrt(b * b + 4.0 * a * seconds)) / (2.0 * a)
        return max(1, math.ceil(root - 1e-9))

    def prefill(self, tokens: float, squares: float) -> float:
        return float(
            np.interp(tokens, self.prefill_tokens, self.prefill_base)
            + self.prefill_per_square * squares
        )


@dataclass
class _Replica:
    index: int
    waiting: deque[int] = field(default_factory=deque)
    finishing: list[tuple[int, int]] = field(default_factory=list)  # (finish step, request)
    step: int = 0
    batch: int = 0
    context_total: float = 0.0
    reserved: float = 0.0
    busy_s: float = 0.0
    # The iteration under way: start, the pure-decode run it is (steps) or the prompt chunks
    # it prefills (request, tokens), its end and a version that invalidates stale events.
    started: float = 0.0
    run_steps: int = 0
    chunks: list[tuple[int, float]] = field(default_factory=list)
    end: float = 0.0
    version: int = 0
    idle: bool = True

    @property
    def load(self) -> int:
        return self.batch + len(self.waiting)


@dataclass(frozen=True)
class ServingSimResult:
    """Per-request latencies and whole-run figures."""

    ttft_s: NDArray[np.float64]
    tpot_s: NDArray[np.float64]
    finish_s: NDArray[np.float64]
    output_tokens: int
    makespan_s: float
    utilisation: NDArray[np.float64]
    mean_batch: float

    @property
    def throughput_tokens_per_s(self) -> float:
        return self.output_tokens / self.makespan_s if self.makespan_s > 0 else 0.0

    def percentile(self, metric: str, q: float) -> float:
        return float(np.percentile(getattr(self, metric), q))

    def slo_attainment(self, ttft_s: float, tpot_s: float) -> float:
        """Share of requests meeting both targets."""
        ok = (self.ttft_s <= ttft_s) & (self.tpot_s <= tpot_s)
        return float(np.mean(ok))

    def summary(self, ttft_s: float | None = None, tpot_s: float | None = None) -> dict[str, float]:
        out = {
            "requests": float(len(self.ttft_s)),
            "throughput_output_tokens_per_s": self.throughput_tokens_per_s,
            "makespan_s": self.makespan_s,
            "mean_batch": self.mean_batch,
            "utilisation": float(np.mean(self.utilisation)),
        }
        for metric in ("ttft_s", "tpot_s"):
            for q in (50, 90, 99):
                out[f"{metric[:-2]}_p{q}_s"] = self.percentile(metric, q)
        if ttft_s is not None and tpot_s is not None:
            out["slo_attainment"] = self.slo_attainment(ttft_s, tpot_s)
        return out


def simulate_serving(
    trace: RequestTrace,
    replica: ReplicaModel,
    replicas: int,
    progress: Callable[[int], None] | None = None,
) -> ServingSimResult:
    """Replay `trace` through `replicas` copies of `replica`; see the module docstring."""
    if replicas < 1:
        raise ValueError("replicas must be at least 1")
    sim = _Simulation(trace, replica, replicas)
    return sim.run(progress)


class _Simulation:
    """State of one replay; `run` drives it to the last completion."""

    def __init__(self, trace: RequestTrace, replica: ReplicaModel, replicas: int) -> None:
        self.trace = trace
        n = len(trace)
        self.inputs = trace.input_len.astype(float)
        self.outputs = trace.output_len
        self.costs = StepCosts.of(replica, int(self.inputs.max()) if n else 1)
        too_long = np.nonzero(self.inputs + self.outputs > self.costs.kv_tokens)[0]
        if too_long.size:
            first = int(too_long[0])
            raise ValueError(
                f"request {first} needs {int(self.inputs[first] + self.outputs[first])}"
                f" tokens of KV cache; a replica holds {int(self.costs.kv_tokens)}"
            )
        self.prefilled = trace.cached_len.astype(float).copy()
        self.ttft = np.full(n, np.inf)
        self.finish = np.full(n, np.inf)
        self.first_token = np.zeros(n)
        self.pool = [_Replica(i) for i in range(replicas)]
        self.events: list[tuple[float, int, int]] = []
        self.batch_time = 0.0
        self.done = 0

    def run(self, progress: Callable[[int], None] | None) -> ServingSimResult:
        arrival, n = self.trace.arrival_s, len(self.trace)
        next_arrival = 0
        while self.done < n:
            arrival_time = arrival[next_arrival] if next_arrival < n else math.inf
            event_time = self.events[0][0] if self.events else math.inf
            if arrival_time <= event_time:
                rep = min(self.pool, key=lambda r: (r.load, r.index))
                rep.waiting.append(next_arrival)
                next_arrival += 1
                if rep.idle:
                    self._start(rep, arrival_time)
                elif rep.run_steps:
                    self._cut(rep, arrival_time)
                continue
            now, index, version = heapq.heappop(self.events)
            rep = self.pool[index]
            if version == rep.version:
                self._finish_iteration(rep, now)
                if progress is not None:
                    progress(self.done)
                self._start(rep, now)
        outputs = self.outputs
        tpot = np.where(
            outputs > 1, (self.finish - self.first_token) / np.maximum(outputs - 1, 1), 0.0
        )
        makespan = float(self.finish.max() - arrival[0]) if n else 0.0
        busy = np.asarray([r.busy_s for r in self.pool]) / max(makespan, 1e-12)
        mean_batch = self.batch_time / max(makespan * len(self.pool), 1e-12)
        return ServingSimResult(
            self.ttft,
            tpot,
            self.finish,
            int(outputs.sum()),
            makespan,
            np.minimum(busy, 1.0),
            mean_batch,
        )

    def _start(self, rep: _Replica, now: float) -> None:
        """Begin the next iteration: prefill chunks (plus a decode step), or a decode run."""
        costs = self.costs
        rep.version += 1
        rep.started = now
        rep.chunks = self._take_chunks(rep)
        if rep.chunks:
            tokens = sum(tokens for _, tokens in rep.chunks)
            squares = sum(
                (self.prefilled[r] + t) ** 2 - self.prefilled[r] ** 2 for r, t in rep.chunks
            )
            # One fused pass: the running sequences' next tokens ride along with the chunk
            # through the same weight reads; their attention reads the KV cache as usual.
            rep.run_steps = 0
            rep.end = (
                now
                + costs.prefill(tokens + rep.batch, squares)
                + (costs.decode_per_context * rep.context_total)
            )
        elif rep.batch:
            rep.run_steps = rep.finishing[0][0] - rep.step
            rep.end = now + costs.decode_run(rep.batch, rep.context_total, rep.run_steps)
        else:
            rep.idle = True
            return
        rep.idle = False
        heapq.heappush(self.events, (rep.end, rep.index, rep.version))

    def _take_chunks(self, rep: _Replica) -> list[tuple[int, float]]:
        """Prompt tokens for this iteration, first come first served, within the budget, the
        batch limit and the KV cache (a prompt reserves its whole KV when it starts)."""
        chunks: list[tuple[int, float]] = []
        budget = float(PREFILL_TOKEN_BUDGET)
        for position, request in enumerate(rep.waiting):
            if budget <= 0:
                break
            started = self.prefilled[request] > self.trace.cached_len[request]
            if not started:
                need = self.inputs[request] + self.outputs[request]
                if (
                    rep.batch + position >= self.costs.max_batch
                    or rep.reserved + need > self.costs.kv_tokens
                ):
                    break
                rep.reserved += need
                self.prefilled[request] += 1e-9  # mark as started (KV reserved)
            take = min(budget, self.inputs[request] - self.prefilled[request])
            chunks.append((request, take))
            budget -= take
        return chunks

    def _finish_iteration(self, rep: _Replica, now: float) -> None:
        rep.busy_s += now - rep.started
        steps = rep.run_steps if rep.run_steps else (1 if rep.batch else 0)
        self.batch_time += rep.batch * (now - rep.started)
        rep.context_total += rep.batch * steps
        rep.step += steps
        while rep.finishing and rep.finishing[0][0] <= rep.step:
            _, request = heapq.heappop(rep.finishing)
            self._complete(rep, request, now)
            rep.batch -= 1
            rep.context_total -= self.inputs[request] + self.outputs[request] - 1
        for request, tokens in rep.chunks:
            self.prefilled[request] += tokens
            if self.prefilled[request] < self.inputs[request] - 1e-6:
                continue
            rep.waiting.remove(request)
            self.ttft[request] = now - self.trace.arrival_s[request]
            self.first_token[request] = now
            if self.outputs[request] <= 1:
                self._complete(rep, request, now)
                continue
            rep.batch += 1
            rep.context_total += self.inputs[request]
            heapq.heappush(rep.finishing, (rep.step + int(self.outputs[request]) - 1, request))
        rep.chunks = []
        rep.run_steps = 0

    def _complete(self, rep: _Replica, request: int, now: float) -> None:
        self.finish[request] = now
        rep.reserved -= self.inputs[request] + self.outputs[request]
        self.done += 1

    def _cut(self, rep: _Replica, now: float) -> None:
        """A prompt arrived during a decode run: end the run at the first step boundary after
        `now`, so the next iteration can start its prefill."""
        costs = self.costs
        steps = costs.steps_within(rep.batch, rep.context_total, now - rep.started)
        if steps >= rep.run_steps:
            return
        rep.run_steps = steps
        rep.end = rep.started + costs.decode_run(rep.batch, rep.context_total, steps)
        rep.version += 1
        heapq.heappush(self.events, (rep.end, rep.index, rep.version))
