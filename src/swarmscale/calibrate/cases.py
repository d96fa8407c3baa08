"""Validation cases from a profile's model-level measurements (training steps, decode, prefill).

The GPT that `measure.py` times is written out as an inline architecture, so `swarmscale
validate` predicts exactly the model that ran. These cases are in the test split: no factor is
fitted on them, and the kernel-level measurements the profile's factors come from are separate.
"""

from __future__ import annotations

from swarmscale.catalog.schemas import Case, DeviceProfile, InlineArchitecture, Measurement

CASE_PARTS = ("train_step", "decode_step", "prefill")


def _architecture(shape: dict[str, int]) -> InlineArchitecture:
    return InlineArchitecture(
        layers=shape["layers"],
        d_model=shape["d_model"],
        heads=shape["heads"],
        kv_heads=shape["heads"],
        ffn_hidden=shape["ffn_hidden"],
        vocab=shape["vocab"],
        activation="gelu",
        tied_embeddings=True,
        norm="layernorm",
        position="learned",
    )


def _case(profile: DeviceProfile, measurement: Measurement) -> Case:
    shape, seconds = measurement.shape, measurement.seconds
    assert seconds is not None
    model = f"gpt-{shape['layers']}x{shape['d_model']}"
    common = {
        "source": f"measured by swarmscale calibrate on {profile.device_name} "
        f"({', '.join(f'{k} {v}' for k, v in profile.software.items())}); profile {profile.id}",
        "architecture": _architecture(shape),
        "chip": profile.chip,
        "chips": 1,
        "precision": "bf16",
        "split": "test",
    }
    if measurement.part == "train_step":
        batch, seq = shape["batch"], shape["seq"]
        return Case(
            id=f"calib-{profile.chip}-{model}-train-b{batch}-s{seq}",
            kind="training",
            seq_len=seq,
            global_batch=batch,
            micro_batch=batch,
            plan={"tp": 1, "pp": 1, "dp": 1, "recompute": "none", "zero": 0},
            # measure.py runs plain PyTorch: no torch.compile, one kernel per operation, fp32
            # weights under bf16 autocast, and `cross_entropy` over the logits cast to fp32.
            software={
                "fused_attention": True,
                "overlap_grad_reduce": False,
                "sequence_parallel": False,
                "eager": True,
                "fused_loss": False,
                "autocast": True,
            },
            measured={"step_seconds": seconds, "tokens_per_s": batch * seq / seconds},
            **common,
        )
    if measurement.part == "decode_step":
        batch, context = shape["batch"], shape["context"]
        return Case(
            id=f"calib-{profile.chip}-{model}-decode-b{batch}-c{context}",
            kind="inference",
            phase="decode",
            batch=batch,
            input_len=context,
            plan={"tp": 1},
            # A CUDA graph replay timed with device events: no engine work per step.
            software={"serving_engine": False},
            measured={"tokens_per_s": batch / seconds, "tpot_s": seconds},
            **common,
        )
    prompt = shape["prompt"]
    return Case(
        id=f"calib-{profile.chip}-{model}-prefill-{prompt}",
        kind="inference",
        phase="prefill",
        batch=shape["batch"],
        input_len=prompt,
        plan={"tp": 1},
        # measure.py's prefill is an eager `model(tokens)`: logits for every prompt position,
        # no engine, every kernel launched from the host.
        software={"all_prompt_logits": True, "serving_engine": False, "eager": True},
        measured={"tokens_per_s": shape["batch"] * prompt / seconds, "ttft_s": seconds},
        **common,
    )


def cases_from_profile(profile: DeviceProfile) -> list[Case]:
    """One case per training-step, decode-step and prefill measurement of the profile."""
    return [
        _case(profile, m)
        for m in profile.measurements
        if m.part in CASE_PARTS and m.seconds is not None
    ]
