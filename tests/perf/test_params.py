"""Derived parameter counts against the published totals (each source in the catalog entry)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmscale.catalog import Model, default_catalog
from swarmscale.catalog.schemas import PublishedCount
from swarmscale.perf.params import count_params

MODELS = default_catalog().models


def within_published(derived: float, published: PublishedCount) -> bool:
    """True when `derived` is within 1% of some number that rounds to the printed figure.

    Authors round: Megatron-LM prints "1.7B" for a 1.65B model. A printed figure with d
    significant digits stands for an interval of half a unit in its last digit.
    """
    half_unit = 0.0
    if published.significant_digits is not None:
        exponent = math.floor(math.log10(published.value)) - published.significant_digits + 1
        half_unit = 0.5 * 10.0**exponent
    low, high = published.value - half_unit, published.value + half_unit
    return low * 0.99 <= derived <= high * 1.01


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_total_params_match_published(model_id: str) -> None:
    model = MODELS[model_id]
    counts = count_params(model)
    assert model.published_total_params is not None, "every catalog model cites its size"
    assert within_published(counts.total, model.published_total_params), counts.total


@pytest.mark.parametrize(
    "model_id", sorted(m for m in MODELS if MODELS[m].published_active_params is not None)
)
def test_active_params_match_published(model_id: str) -> None:
    model = MODELS[model_id]
    assert model.published_active_params is not None
    assert within_published(count_params(model).active, model.published_active_params)


def test_exact_counts_from_released_weights() -> None:
    """Hugging Face safetensors metadata: Llama-3.1-8B 8,030,261,248; Llama-2-70B 68,976,648,192."""
    assert count_params(MODELS["llama3-8b"]).total == 8_030_261_248
    assert count_params(MODELS["llama2-70b"]).total == 68_976_648_192


def test_deepseek_mtp_module_size() -> None:
    """arXiv:2412.19437: the released 685B = 671B main model + 14B MTP module, which stores its
    own copy of the embedding and head (2 x 0.93B) on top of one MoE block."""
    counts = count_params(MODELS["deepseek-v3"])
    mtp_with_copies = counts.mtp + counts.embedding + counts.lm_head
    assert mtp_with_copies == pytest.approx(14e9, rel=0.05)


@given(
    layers=st.integers(1, 200),
    d_model=st.sampled_from([512, 1024, 4096, 8192]),
    ffn_mult=st.integers(1, 8),
    experts=st.integers(2, 64),
    data=st.data(),
)
def test_counts_are_positive_and_active_never_exceeds_total(
    layers: int, d_model: int, ffn_mult: int, experts: int, data: st.DataObject
) -> None:
    active = data.draw(st.integers(1, experts))
    base = MODELS["mixtral-8x7b"].model_dump()
    base.update(
        layers=layers, d_model=d_model, heads=8, kv_heads=8, ffn_hidden=ffn_mult * d_model,
        moe={"experts": experts, "active_experts": active, "expert_ffn_hidden": ffn_mult * d_model},
    )  # fmt: skip
    model = Model.model_validate(base)
    counts = count_params(model)
    assert 0 < counts.active <= counts.total
    deeper = Model.model_validate({**base, "layers": layers + 1})
    assert count_params(deeper).total > counts.total
