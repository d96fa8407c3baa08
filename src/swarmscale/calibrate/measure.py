"""Timed measurements of one device with PyTorch: copies, launches, GEMMs, attention, and small
GPT training steps, prefills and CUDA-graph decode steps.

Every timing warms up first, repeats, and keeps the median; inputs are random normals, never
zeros, so no kernel can take a shortcut. The timer is a parameter: CUDA events on a GPU, the
wall clock on a CPU, or a fake in tests. PyTorch is imported only when a suite runs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from swarmscale.catalog.schemas import Measurement


class CalibrationUnavailable(RuntimeError):
    """PyTorch or the requested device is missing; the message says what to install."""


class Timer(Protocol):
    def __call__(self, run: Callable[[], object], warmup: int, repeats: int) -> list[float]:
        """Seconds of each of `repeats` calls of `run`, after `warmup` untimed calls."""
        ...


@dataclass(frozen=True)
class GptShape:
    """A GPT-2-style decoder (LayerNorm, GELU MLP of 4x, learned positions, tied embeddings)."""

    layers: int
    d_model: int
    heads: int
    vocab: int = 50304

    @property
    def ffn_hidden(self) -> int:
        return 4 * self.d_model

    def as_shape(self) -> dict[str, int]:
        return {"layers": self.layers, "d_model": self.d_model, "heads": self.heads,
                "ffn_hidden": self.ffn_hidden, "vocab": self.vocab}  # fmt: skip


@dataclass(frozen=True)
class Suite:
    """What to measure; `quick` keeps the same kinds of work at fewer sizes."""

    copy_mib: tuple[int, ...]
    gemm_sizes: tuple[tuple[int, int, int], ...]
    attention: tuple[tuple[int, int, int, int, int], ...]  # batch, heads, seq_q, seq_kv, head_dim
    train: tuple[tuple[GptShape, int, int], ...]  # model, batch, seq
    decode: tuple[tuple[GptShape, int, int], ...]  # model, batch, context
    prefill: tuple[tuple[GptShape, int], ...]  # model, prompt length
    warmup: int
    repeats: int


GPT_SMALL = GptShape(layers=12, d_model=768, heads=12)
GPT_MEDIUM = GptShape(layers=24, d_model=1024, heads=16)
GPT_LARGE = GptShape(layers=24, d_model=2048, heads=16)
_SKINNY = tuple((m, 8192, 8192) for m in (1, 16, 64, 256, 1024))
_SQUARE = tuple((s, s, s) for s in (2048, 4096, 8192))

FULL_SUITE = Suite(
    copy_mib=(64, 256, 1024, 4096),
    gemm_sizes=_SKINNY + _SQUARE + ((16384, 8192, 8192), (8192, 28672, 8192), (8192, 8192, 28672)),
    attention=(
        (8, 16, 2048, 2048, 128),
        (2, 32, 8192, 8192, 128),
        (64, 32, 1, 4096, 128),
        (256, 8, 1, 2048, 128),
    ),
    train=((GPT_SMALL, 16, 1024), (GPT_MEDIUM, 8, 1024), (GPT_LARGE, 4, 2048)),
    decode=tuple((GPT_LARGE, batch, 1024) for batch in (1, 8, 32, 128)),
    prefill=((GPT_LARGE, 512), (GPT_LARGE, 2048), (GPT_LARGE, 8192)),
    warmup=5,
    repeats=20,
)
QUICK_SUITE = Suite(
    copy_mib=(256, 1024),
    gemm_sizes=((16, 8192, 8192), (256, 8192, 8192), (8192, 8192, 8192)),
    attention=((8, 16, 2048, 2048, 128), (64, 32, 1, 4096, 128)),
    train=((GPT_SMALL, 8, 1024),),
    decode=((GPT_SMALL, 1, 512), (GPT_SMALL, 32, 512)),
    prefill=((GPT_SMALL, 1024),),
    warmup=3,
    repeats=10,
)


def import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise CalibrationUnavailable(
            "swarmscale calibrate needs PyTorch: pip install 'swarmscale[calibrate]' "
            "(or a CUDA build of torch for your driver)"
        ) from exc
    return torch


def wall_timer(run: Callable[[], object], warmup: int, repeats: int) -> list[float]:
    """Wall-clock timing: for CPU tensors (tests), and for host code (`make bench`)."""
    for _ in range(warmup):
        run()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return samples


def cuda_event_timer(torch: Any) -> Timer:
    """Device time between CUDA events, so host launch gaps between repeats are not counted."""

    def timer(run: Callable[[], object], warmup: int, repeats: int) -> list[float]:
        for _ in range(warmup):
            run()
        torch.cuda.synchronize()
        pairs = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                 for _ in range(repeats)]  # fmt: skip
        for start, end in pairs:
            start.record()
            run()
            end.record()
        torch.cuda.synchronize()
        return [start.elapsed_time(end) / 1e3 for start, end in pairs]

    return timer


def summarize(samples: list[float]) -> tuple[float, float]:
    """Median and the (p90 - p10) / median spread of repeated timings."""
    if not samples or min(samples) <= 0:
        raise ValueError(f"timings must be positive, got {samples}")
    ordered = sorted(samples)
    median = statistics.median(ordered)
    low = ordered[int(0.1 * (len(ordered) - 1))]
    high = ordered[round(0.9 * (len(ordered) - 1))]
    return median, (high - low) / median


@dataclass
class Bench:
    """One device, its timer and the suite's repeat counts."""

    torch: Any
    device: str
    timer: Timer
    warmup: int
    repeats: int

    def time(self, run: Callable[[], object], **fields: Any) -> Measurement:
        median, spread = summarize(self.timer(run, self.warmup, self.repeats))
        return Measurement(seconds=median, spread=spread, repeats=self.repeats, **fields)

    def randn(self, *shape: int, dtype: Any = None) -> Any:
        return self.torch.randn(*shape, device=self.device, dtype=dtype or self.torch.bfloat16)


def measure_copy(bench: Bench, mib: int) -> list[Measurement]:
    """A device-to-device copy: each byte is read once and written once."""
    source = bench.randn(mib * 2**20 // 2)
    target = bench.torch.empty_like(source)
    size = source.numel() * source.element_size()
    return [bench.time(partial(target.copy_, source), part="copy", shape={"mib": mib},
                       bytes=2.0 * size)]  # fmt: skip


def measure_launch(bench: Bench, kernels: int = 200) -> list[Measurement]:
    """Seconds per tiny kernel when many run back to back: the fixed cost of one launch."""
    scratch = bench.randn(256)

    def launches() -> None:
        for _ in range(kernels):
            scratch.add_(1.0)

    one = bench.time(launches, part="launch", shape={"kernels": kernels})
    return [one.model_copy(update={"seconds": (one.seconds or 0.0) / kernels})]


def _fp8_supported(bench: Bench) -> bool:
    torch = bench.torch
    return (
        bench.device.startswith("cuda")
        and hasattr(torch, "float8_e4m3fn")
        and torch.cuda.get_device_capability() >= (8, 9)
    )


def measure_gemm(bench: Bench, m: int, k: int, n: int) -> list[Measurement]:
    """A bf16 GEMM, and the same shape in fp8 (scaled, as fp8 training runs it) where the
    device has fp8 units."""
    torch = bench.torch
    a, b = bench.randn(m, k), bench.randn(k, n)
    rows = [bench.time(partial(torch.matmul, a, b), part="gemm", dtype="bf16",
                       shape={"m": m, "k": k, "n": n}, flops=2.0 * m * k * n,
                       bytes=2.0 * (m * k + k * n + m * n))]  # fmt: skip
    if not _fp8_supported(bench) or m % 16 or k % 16 or n % 16:
        return rows
    a8 = a.to(torch.float8_e4m3fn)
    b8 = b.t().contiguous().to(torch.float8_e4m3fn).t()  # column-major, as cuBLASLt wants
    scale = torch.ones((), device=bench.device, dtype=torch.float32)
    rows.append(bench.time(
        partial(torch._scaled_mm, a8, b8, scale_a=scale, scale_b=scale, out_dtype=torch.bfloat16),
        part="gemm", dtype="fp8", shape={"m": m, "k": k, "n": n}, flops=2.0 * m * k * n,
        bytes=1.0 * (m * k + k * n) + 2.0 * m * n,
    ))  # fmt: skip
    return rows


def measure_attention(
    bench: Bench, batch: int, heads: int, seq_q: int, seq_kv: int, head_dim: int
) -> list[Measurement]:
    """Fused attention forward: causal when it is a prefill (seq_q = seq_kv), else one-query
    decode over a cache."""
    functional = bench.torch.nn.functional
    q = bench.randn(batch, heads, seq_q, head_dim)
    k, v = bench.randn(batch, heads, seq_kv, head_dim), bench.randn(batch, heads, seq_kv, head_dim)
    causal = seq_q == seq_kv
    pairs = seq_q * seq_kv * (0.5 if causal else 1.0)
    return [bench.time(
        partial(functional.scaled_dot_product_attention, q, k, v, is_causal=causal),
        part="attention",
        shape={"batch": batch, "heads": heads, "seq_q": seq_q, "seq_kv": seq_kv,
               "head_dim": head_dim, "causal": int(causal)},
        flops=4.0 * batch * heads * pairs * head_dim,
        bytes=2.0 * batch * heads * head_dim * (2 * seq_q + 2 * seq_kv),
    )]  # fmt: skip


def _gpt(torch: Any, shape: GptShape, max_len: int, device: str) -> Any:
    """A GPT-2-style decoder with an optional static KV cache for decode steps."""
    nn, functional = torch.nn, torch.nn.functional
    module: Any = nn.Module

    class Block(module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(shape.d_model), nn.LayerNorm(shape.d_model)
            self.qkv = nn.Linear(shape.d_model, 3 * shape.d_model, bias=False)
            self.out = nn.Linear(shape.d_model, shape.d_model, bias=False)
            self.up = nn.Linear(shape.d_model, shape.ffn_hidden, bias=False)
            self.down = nn.Linear(shape.ffn_hidden, shape.d_model, bias=False)

        def forward(self, x: Any, cache: Any = None, position: Any = None) -> Any:
            batch, length, _ = x.shape
            q, k, v = self.qkv(self.norm1(x)).view(batch, length, 3, shape.heads, -1).unbind(2)
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            if cache is None:
                attended = functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                keys, values, mask = cache
                keys.index_copy_(2, position, k)
                values.index_copy_(2, position, v)
                attended = functional.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
            x = x + self.out(attended.transpose(1, 2).reshape(batch, length, -1))
            return x + self.down(functional.gelu(self.up(self.norm2(x)), approximate="tanh"))

    class Gpt(module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(shape.vocab, shape.d_model)
            self.positions = nn.Embedding(max_len, shape.d_model)
            self.blocks = nn.ModuleList(Block() for _ in range(shape.layers))
            self.norm = nn.LayerNorm(shape.d_model)

        def forward(self, tokens: Any, caches: Any = None, position: Any = None) -> Any:
            where = torch.arange(tokens.shape[1], device=tokens.device)
            x = self.embed(tokens) + self.positions(where if position is None else position)
            for index, block in enumerate(self.blocks):
                x = block(x, None if caches is None else caches[index], position)
            return self.norm(x) @ self.embed.weight.t()  # tied output projection

    return Gpt().to(device)


def _tokens(bench: Bench, shape: GptShape, batch: int, length: int) -> Any:
    return bench.torch.randint(0, shape.vocab, (batch, length), device=bench.device)


def measure_train_step(bench: Bench, shape: GptShape, batch: int, seq: int) -> list[Measurement]:
    """Forward, loss, backward and AdamW step under bf16 autocast with fp32 master weights."""
    torch = bench.torch
    model = _gpt(torch, shape, seq, bench.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    tokens, targets = _tokens(bench, shape, batch, seq), _tokens(bench, shape, batch, seq)
    device_type = bench.device.split(":")[0]

    def step() -> None:
        with torch.autocast(device_type, dtype=torch.bfloat16):
            logits = model(tokens)
        loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    parameters = sum(p.numel() for p in model.parameters())
    return [bench.time(step, part="train_step", shape={**shape.as_shape(), "batch": batch,
                       "seq": seq}, flops=6.0 * parameters * batch * seq)]  # fmt: skip


def _decode_runner(bench: Bench, model: Any, shape: GptShape, batch: int, context: int) -> Any:
    """One decode step at position `context` over a filled static cache; a CUDA graph on GPUs
    so the measured time is the kernels', as in a production serving engine."""
    torch = bench.torch
    head_dim = shape.d_model // shape.heads
    caches = [
        (bench.randn(batch, shape.heads, context + 1, head_dim),
         bench.randn(batch, shape.heads, context + 1, head_dim),
         torch.zeros(1, 1, 1, context + 1, device=bench.device, dtype=torch.bfloat16))
        for _ in range(shape.layers)
    ]  # fmt: skip
    token = _tokens(bench, shape, batch, 1)
    position = torch.tensor([context], device=bench.device)

    def step() -> Any:
        with torch.no_grad():
            return model(token, caches, position)

    if not bench.device.startswith("cuda"):
        return step
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph.replay


def measure_decode(bench: Bench, shape: GptShape, batch: int, context: int) -> list[Measurement]:
    """A bf16 decode step of `batch` sequences, each with `context` tokens already cached."""
    model = _gpt(bench.torch, shape, context + 1, bench.device).to(bench.torch.bfloat16)
    run = _decode_runner(bench, model, shape, batch, context)
    return [bench.time(
        run, part="decode_step", shape={**shape.as_shape(), "batch": batch, "context": context}
    )]  # fmt: skip


def measure_prefill(bench: Bench, shape: GptShape, length: int) -> list[Measurement]:
    """bf16 forward over one prompt, logits included: the compute of time to first token."""
    torch = bench.torch
    model = _gpt(torch, shape, length, bench.device).to(torch.bfloat16)
    tokens = _tokens(bench, shape, 1, length)

    def forward() -> Any:
        with torch.no_grad():
            return model(tokens)

    return [bench.time(forward, part="prefill",
                       shape={**shape.as_shape(), "batch": 1, "prompt": length})]  # fmt: skip


@dataclass(frozen=True)
class SuiteResult:
    measurements: list[Measurement]
    skipped: list[str]  # sizes the device had no memory for


def _steps(bench: Bench, suite: Suite) -> list[tuple[str, Callable[[], list[Measurement]]]]:
    """One step per size of each family, so a size that does not fit skips alone."""
    return [
        ("launch overhead", partial(measure_launch, bench)),
        *((f"copy {mib} MiB", partial(measure_copy, bench, mib)) for mib in suite.copy_mib),
        *((f"GEMM {m}x{k}x{n}", partial(measure_gemm, bench, m, k, n))
          for m, k, n in suite.gemm_sizes),
        *((f"attention {shape}", partial(measure_attention, bench, *shape))
          for shape in suite.attention),
        *((f"training step {model.layers}x{model.d_model} b{batch} s{seq}",
           partial(measure_train_step, bench, model, batch, seq))
          for model, batch, seq in suite.train),
        *((f"decode {model.layers}x{model.d_model} b{batch}",
           partial(measure_decode, bench, model, batch, context))
          for model, batch, context in suite.decode),
        *((f"prefill {model.layers}x{model.d_model} {length}",
           partial(measure_prefill, bench, model, length))
          for model, length in suite.prefill),
    ]  # fmt: skip


def run_suite(bench: Bench, suite: Suite, progress: Callable[[str, int, int], None]) -> SuiteResult:
    """Every measurement of `suite`, telling `progress` each step's name as it starts, how many
    steps are done and how many there are. A size that runs out of device memory is skipped
    and named, so a smaller GPU still calibrates."""
    out_of_memory = getattr(getattr(bench.torch, "cuda", None), "OutOfMemoryError", MemoryError)
    result = SuiteResult([], [])
    steps = _steps(bench, suite)
    for done, (name, step) in enumerate(steps):
        progress(name, done, len(steps))
        try:
            result.measurements.extend(step())
        except out_of_memory:
            result.skipped.append(name)
            if bench.device.startswith("cuda"):
                bench.torch.cuda.empty_cache()
    return result


def open_bench(device: str, suite: Suite) -> tuple[Bench, str, dict[str, str]]:
    """A bench on `device` ("cuda" or "cpu"), the device's name and the software versions."""
    torch = import_torch()
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise CalibrationUnavailable(
                f"no CUDA device is visible to PyTorch {torch.__version__} "
                "(torch.cuda.is_available() is False)"
            )
        name = str(torch.cuda.get_device_name())
        timer = cuda_event_timer(torch)
        software = {"torch": str(torch.__version__), "cuda": str(torch.version.cuda)}
    else:
        name, timer, software = "cpu", wall_timer, {"torch": str(torch.__version__)}
    torch.manual_seed(0)
    return Bench(torch, device, timer, suite.warmup, suite.repeats), name, software
