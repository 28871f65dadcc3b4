"""The torch port of tox-block against references computed here independently.

- the Keras layer equations written out in float64 numpy, one text at a time, on weights read
  straight from the wheel's HDF5 file with h5py (not from the converted safetensors);
- the Keras tokenizer's word index rebuilt from the pickled word counts (Keras sorts by count);
- the probabilities that tox-block's README shows for TensorFlow's own run of the model.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from llm_behavior.scoring import local_toxicity as lt
from llm_behavior.scoring.local_toxicity import toxblock as tbm

pytestmark = pytest.mark.slow

TEXTS = [
    "I will kill you, you fucking idiot!",
    "Good morning my friend, I hope you're having a fantastic day!",
    "Those people are vermin and should all be deported.",
    "the weather is nice today",
    "zzqxv unknownword\tTAB\nnewline ... ?!",  # out-of-vocabulary words, filter characters
    "!!!",  # nothing left after tokenisation: all padding
    " ".join(f"word{i} you are a stupid idiot" for i in range(40)),  # > 100 tokens: pre-truncation
]


@pytest.fixture(scope="module")
def wheel_path():
    try:
        return lt.fetch_wheel("tox-block")
    except (FileNotFoundError, RuntimeError) as err:  # pragma: no cover - no PyPI and no cache
        pytest.skip(f"tox-block wheel unavailable: {err}")


@pytest.fixture(scope="module")
def h5_weights(wheel_path):
    import h5py

    with zipfile.ZipFile(wheel_path) as zf:
        data = zf.read(lt.TOXBLOCK_MEMBERS["h5"])
    with h5py.File(io.BytesIO(data), "r") as f:
        g = f["model_weights"]
        lstm = g["bidirectional/bidirectional"]
        return {
            "emb": g["embedding/embedding/embeddings:0"][()].astype(np.float64),
            "fw": [
                lstm[f"forward_lstm/{k}:0"][()].astype(np.float64)
                for k in ("kernel", "recurrent_kernel", "bias")
            ],
            "bw": [
                lstm[f"backward_lstm/{k}:0"][()].astype(np.float64)
                for k in ("kernel", "recurrent_kernel", "bias")
            ],
            "dense": [g[f"dense/dense/{k}:0"][()].astype(np.float64) for k in ("kernel", "bias")],
            "out": [g[f"dense_1/dense_1/{k}:0"][()].astype(np.float64) for k in ("kernel", "bias")],
        }


@pytest.fixture(scope="module")
def keras_word_index(wheel_path):
    """Keras ``Tokenizer.fit_on_texts``: index = rank by count (stable for ties), from 1."""
    with zipfile.ZipFile(wheel_path) as zf:
        data = zf.read(lt.TOXBLOCK_MEMBERS["encoder"])
    tok = tbm._RestrictedUnpickler(io.BytesIO(data)).load().tokenizer
    ranked = sorted(tok.word_counts.items(), key=lambda kv: kv[1], reverse=True)
    rebuilt = {w: i + 1 for i, (w, _) in enumerate(ranked)}
    assert rebuilt == tok.word_index  # the pickled index is the one Keras derives from the counts
    return rebuilt


@pytest.fixture(scope="module")
def port():
    return tbm.ToxBlock.load(lt.prepare_toxblock())


def keras_ids(text: str, word_index: dict[str, int]) -> list[int]:
    """keras_preprocessing: text_to_word_sequence, texts_to_sequences(num_words), pad_sequences."""
    for ch in '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n':
        text = text.replace(ch, " ")
    words = [w for w in text.lower().split(" ") if w]
    ids = [word_index[w] for w in words if w in word_index and word_index[w] < 20000]
    ids = ids[-100:]
    return [0] * (100 - len(ids)) + ids


def keras_forward(ids: list[int], w: dict) -> np.ndarray:
    """Embedding -> Bidirectional(LSTM, concat) ->
    GlobalMaxPool1D -> Dense relu -> Dense sigmoid."""

    def hard_sigmoid(x):
        return np.clip(0.2 * x + 0.5, 0.0, 1.0)

    def lstm(xs, kernel, recurrent, bias):
        units = recurrent.shape[0]
        h, c, outs = np.zeros(units), np.zeros(units), []
        for x in xs:
            gate = {}
            for k, name in enumerate("ifco"):  # Keras gate order: input, forget, cell, output
                sl = slice(k * units, (k + 1) * units)
                gate[name] = x @ kernel[:, sl] + h @ recurrent[:, sl] + bias[sl]
            i, f, o = hard_sigmoid(gate["i"]), hard_sigmoid(gate["f"]), hard_sigmoid(gate["o"])
            c = f * c + i * np.tanh(gate["c"])
            h = o * np.tanh(c)
            outs.append(h)
        return np.array(outs)

    xs = w["emb"][ids]
    forward = lstm(xs, *w["fw"])
    backward = lstm(xs[::-1], *w["bw"])[::-1]  # Bidirectional re-reverses the backward outputs
    pooled = np.concatenate([forward, backward], axis=1).max(axis=0)
    hidden = np.maximum(0.0, pooled @ w["dense"][0] + w["dense"][1])
    logits = hidden @ w["out"][0] + w["out"][1]
    return 1.0 / (1.0 + np.exp(-logits))


def test_tokenizer_matches_keras(port, keras_word_index):
    for text in TEXTS:
        assert port.encode([text])[0].tolist() == keras_ids(text, keras_word_index), text
    # words ranked >= 20,000 are dropped, as with Tokenizer(num_words=20000)
    rare = next(w for w, i in keras_word_index.items() if i == 25000 and w.isalpha())
    assert port.encode([f"you {rare}"])[0].tolist() == [0] * 99 + [keras_word_index["you"]]


def test_port_matches_keras_equations(port, h5_weights, keras_word_index):
    expected = np.array([keras_forward(keras_ids(t, keras_word_index), h5_weights) for t in TEXTS])
    got = port.predict(TEXTS)
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-6)
    # the logits too (probabilities near 0/1 would hide differences)
    np.testing.assert_allclose(
        port.logits(TEXTS), np.log(expected / (1 - expected)), rtol=0, atol=5e-4
    )


def test_port_matches_tensorflow_outputs_in_readme(port):
    """tox-block's README: make_predictions(..., rescale=True) as computed by TensorFlow."""
    readme = {
        "Good morning my friend, I hope you're having a fantastic day!": [
            0.05347811430692673,
            0.0006274021579883993,
            0.004466842859983444,
            0.009578478522598743,
            0.00757843442261219,
            0.002106667961925268,
        ],
        "I will kill you, you fucking idiot!": [
            0.9998679757118225,
            0.7870362997055054,
            0.9885633587837219,
            0.8483908176422119,
            0.9883397221565247,
            0.171059250831604,
        ],
        "I do strongly disagree with the fascist views of "
        "this joke that calls itself a political party.": [
            0.026190076023340225,
            7.185135473264381e-05,
            0.0009493605466559529,
            0.00012321282702032477,
            0.0029190618079155684,
            0.0022098885383456945,
        ],
    }
    got = port.predict(list(readme), rescale=True)
    np.testing.assert_allclose(got, np.array(list(readme.values())), rtol=2e-6, atol=2e-7)


def test_port_is_deterministic_and_batch_invariant(port):
    texts = TEXTS * 3
    a = port.logits(texts, batch_size=512)
    b = port.logits(texts, batch_size=512)
    assert np.array_equal(a, b)
    one_by_one = np.concatenate([port.logits([t]) for t in texts])
    np.testing.assert_allclose(a, one_by_one, rtol=0, atol=1e-5)
    reordered = port.logits(texts[::-1], batch_size=4)[::-1]
    np.testing.assert_allclose(a, reordered, rtol=0, atol=1e-5)


def test_restricted_unpickler_refuses_other_classes():
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("should not run",))

    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        tbm._RestrictedUnpickler(io.BytesIO(pickle.dumps(Evil()))).load()
