"""Observations as plain data: what crosses from a student's kernel to the grader.

A hidden test cell observes the student's function in the kernel (:mod:`vaelab.checks.grading`) and
sends the :class:`~vaelab.checks.observe.Observation` to the grader as one display message of the
type :data:`MIME`, whose content is JSON: strings, and arrays of a fixed dtype as base64 bytes with
their shape. Nothing with behaviour crosses: :func:`decode` rebuilds plain ``torch.Tensor`` objects
from bytes, checks every type, size and name, and raises :class:`BadObservation` for anything else.

Encoded form (``version`` 1)::

    {"version": 1, "check": "01_vae/kl_normal", "inputs": "<fingerprint>",
     "calls": {"log_mean_exp": 3},
     "tensors": {"values": {name: {"dtype": "float32", "shape": [4, 3], "data": "<base64>"}},
                 "samples": {...}, ...}}

``tensors`` holds every ``dict[str, Tensor]`` field of :class:`Observation`; ``calls`` counts the
calls the observed function made to the notebook's other exercise functions (its helpers).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import math
import re

import torch

from .observe import Observation

#: The display type of an observation message.
MIME = "application/vnd.vaelab.observation+json"
VERSION = 1
#: The dtypes an observation may hold, by name.
DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int64": torch.int64,
    "int32": torch.int32,
    "bool": torch.bool,
}
#: The most bytes of array data one observation may hold, the most arrays, dimensions and name length.
MAX_BYTES = 48 << 20
MAX_ARRAYS = 4000
MAX_DIMS = 8
MAX_SIZE = 1 << 26  # of one dimension: an empty array of huge dimensions is no array
MAX_NAME = 400
CHECK_ID = re.compile(r"^\d\d_[a-z]+/[a-z_]+$")


class BadObservation(ValueError):
    """An observation message that is not what :func:`encode` writes."""


def _tensor_fields() -> list[str]:
    return [f.name for f in dataclasses.fields(Observation) if f.name != "inputs"]


def _encode_tensor(t: torch.Tensor) -> dict:
    t = t.detach().cpu().contiguous()
    name = str(t.dtype).replace("torch.", "")
    if name not in DTYPES:
        t, name = t.double(), "float64"
    raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
    return {"dtype": name, "shape": list(t.shape), "data": base64.b64encode(raw).decode("ascii")}


def encode(check_id: str, obs: Observation, calls: dict[str, int] | None = None) -> dict:
    """The JSON-able form of ``obs``, the observation of the exercise ``check_id``."""
    tensors = {
        field: {name: _encode_tensor(t) for name, t in getattr(obs, field).items()} for field in _tensor_fields()
    }
    return {
        "version": VERSION,
        "check": check_id,
        "inputs": obs.inputs,
        "calls": dict(calls or {}),
        "tensors": tensors,
    }


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise BadObservation(what)


def _name(value) -> str:
    _require(isinstance(value, str) and len(value) <= MAX_NAME, "a name that is not a short string")
    return value


def _decode_tensor(item, budget: list[int]) -> torch.Tensor:
    _require(isinstance(item, dict) and set(item) == {"dtype", "shape", "data"}, "an array entry of another form")
    dtype = DTYPES.get(item["dtype"]) if isinstance(item["dtype"], str) else None
    _require(dtype is not None, f"an array of dtype {str(item['dtype'])[:40]!r}")
    shape = item["shape"]
    _require(
        isinstance(shape, list)
        and len(shape) <= MAX_DIMS
        and all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_SIZE for n in shape),
        "an array shape that is not a short list of sizes",
    )
    data = item["data"]
    _require(isinstance(data, str), "array data that is not a string")
    size = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    budget[0] -= size
    _require(budget[0] >= 0 and len(data) <= 4 * (size + 2) // 3 + 4, "more array data than allowed")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadObservation("array data that is not base64") from None
    _require(len(raw) == size, "array data whose length does not match its shape")
    if not size:
        return torch.zeros(shape, dtype=dtype)
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(dtype).reshape(shape).clone()


def decode(message) -> tuple[str, Observation, dict[str, int]]:
    """``(check_id, observation, calls)`` from the content of an observation message; raises
    :class:`BadObservation` for anything :func:`encode` does not write."""
    _require(isinstance(message, dict), "not a JSON object")
    _require(set(message) == {"version", "check", "inputs", "calls", "tensors"}, "unexpected or missing keys")
    _require(message["version"] == VERSION, "another version")
    check_id = _name(message["check"])
    _require(bool(CHECK_ID.match(check_id)), "a check id of another form")
    calls = message["calls"]
    _require(isinstance(calls, dict) and len(calls) <= 32, "calls that are not a small object")
    calls = {_name(k): v for k, v in calls.items()}
    _require(all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in calls.values()), "bad call counts")
    tensors = message["tensors"]
    _require(isinstance(tensors, dict) and set(tensors) == set(_tensor_fields()), "unexpected observation fields")
    budget, count, fields = [MAX_BYTES], 0, {}
    for field in _tensor_fields():
        entries = tensors[field]
        _require(isinstance(entries, dict), f"{field} that is not an object")
        count += len(entries)
        _require(count <= MAX_ARRAYS, "too many arrays")
        fields[field] = {_name(k): _decode_tensor(v, budget) for k, v in entries.items()}
    inputs = message["inputs"]
    _require(isinstance(inputs, str) and len(inputs) <= 64, "an inputs fingerprint that is not a short string")
    return check_id, Observation(inputs=inputs, **fields), calls
