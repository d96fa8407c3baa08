"""The web's input models and their forms: a form shows a model's values as text that reads
back to the same model, and the web's narrowing refuses anything that could name a file."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmscale.api.inputs import InputError, ServeInput, TrainInput
from swarmscale.web.inputs import (
    SCHEMAS,
    WebFleetInput,
    WebSimulateInput,
    default_values,
    form_values,
    from_form,
)

finite = st.floats(min_value=1e9, max_value=1e15, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(tokens=finite, batch=st.floats(min_value=8192, max_value=1e9), seq=st.integers(1, 8192))
def test_train_form_text_reads_back_to_the_same_model(
    tokens: float, batch: float, seq: int
) -> None:
    query = TrainInput(
        model="llama3-8b", chip="h100-sxm", chips=8, tokens=tokens, global_batch_tokens=batch,
        seq=seq, precision="fp8",
    )  # fmt: skip
    assert from_form(TrainInput, form_values(query)) == query


def test_every_form_reads_back() -> None:
    examples = [
        ServeInput(model="m", chips=("a", "b"), rate=0.5, input_len=1, output_len=2,
                   disaggregate=True),
        WebFleetInput(model="m", tokens=15e12, deadline_days=60.5, pareto=True, budget=1e9),
        WebSimulateInput(network="synthetic-200", trace="alibaba", jobs=7, policy_aware=True),
    ]  # fmt: skip
    for query in examples:
        assert from_form(type(query), form_values(query)) == query
    assert form_values(examples[0])["chips"] == "a,b"
    assert form_values(examples[1])["tokens"] == "1.5e13"


def test_an_empty_form_is_the_model_defaults() -> None:
    for schema in SCHEMAS.values():
        values = default_values(schema)
        assert list(values) == list(schema.model_fields)
        for name, text in values.items():
            field = schema.model_fields[name]
            assert text == ("" if field.is_required() or field.default is None else text)
    assert default_values(WebSimulateInput)["scheduler"] == "fifo"


@pytest.mark.parametrize(
    ("schema", "values", "field"),
    [
        (WebSimulateInput, {"network": "nets/x.yaml"}, "network"),
        (WebSimulateInput, {"network": "synthetic-0"}, "network"),
        (WebSimulateInput, {"network": "synthetic-201"}, "network"),
        (WebSimulateInput, {"network": "test-3-sites", "trace": "jobs.csv"}, "trace"),
        (WebFleetInput, {"model": "m", "tokens": "1", "deadline_days": "1", "policy": "p.yml"},
         "policy"),
        (WebFleetInput, {"tokens": "1", "deadline_days": "1"}, "model"),
        (TrainInput, {"model": "m", "chip": "c", "chips": "8", "tokenz": "1"}, "tokenz"),
    ],
)  # fmt: skip
def test_refused_with_the_field_named(
    schema: type[TrainInput], values: dict[str, str], field: str
) -> None:
    with pytest.raises(InputError) as refused:
        from_form(schema, values)
    assert str(refused.value).startswith(f"{field}: ")
