"""to_jsonable against hand-built values."""

import json
import math

import numpy as np
import pytest

from llm_behavior.jsonable import to_jsonable


def _value():
    return {
        "i": np.int64(3),
        "f": np.float32(0.5),
        "b": np.bool_(True),
        "nan": float("nan"),
        "inf": np.float64(-np.inf),
        "arr": np.array([[1, 2], [3, 4]], dtype=np.int32),
        "farr": np.array([0.25, np.nan]),
        "t": (1, np.float64(2.0), "x"),
        7: [np.str_("s"), None],
        "nested": {np.int64(1): {"deep": (np.nan,)}},
    }


def test_to_jsonable_by_hand():
    out = to_jsonable(_value())
    assert out == {
        "i": 3,
        "f": 0.5,
        "b": True,
        "nan": None,
        "inf": None,
        "arr": [[1, 2], [3, 4]],
        "farr": [0.25, None],
        "t": [1, 2.0, "x"],
        "7": ["s", None],
        "nested": {"1": {"deep": [None]}},
    }
    assert type(out["i"]) is int and type(out["b"]) is bool and type(out["f"]) is float
    assert type(out["arr"][0][0]) is int
    json.dumps(out, allow_nan=False)  # strict JSON


def test_to_jsonable_options():
    out = to_jsonable(_value(), arrays="drop", non_finite="keep")
    assert out["arr"] is None and out["farr"] is None
    assert math.isnan(out["nan"]) and out["inf"] == -math.inf
    assert math.isnan(out["nested"]["1"]["deep"][0])
    assert math.isnan(json.loads(json.dumps(out))["nan"])  # round-trips through Python's json
    with pytest.raises(ValueError, match="arrays"):
        to_jsonable(1, arrays="keep")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        json.dumps(to_jsonable({"x": object()}))  # unknown objects are not hidden
