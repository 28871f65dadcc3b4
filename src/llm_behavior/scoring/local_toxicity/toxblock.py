"""tox-block (MIT, Pascal Bliem) re-run in torch, without TensorFlow.

tox-block 0.1.2 ships a Keras 2.2.4-tf model trained on the Jigsaw Toxic Comment data: a Keras
``Tokenizer`` (20,000 words, pickled inside a sklearn transformer) feeding
``Embedding(20000, 50) -> Bidirectional(LSTM(50, return_sequences=True), concat) ->
GlobalMaxPool1D -> Dense(50, relu) -> Dropout -> Dense(6, sigmoid)``.

:func:`convert_toxblock` reads the wheel's HDF5 weights with h5py and the tokenizer's word index
with a restricted unpickler (it only rebuilds dicts; no code from the pickle runs), and writes them
as safetensors + JSON. :class:`ToxBlock` loads those files and re-runs the network in torch with the
Keras semantics: lower-casing and the Keras filter characters, words with index >= 20,000 dropped,
sequences pre-padded/pre-truncated to 100 with index 0 (no masking: the padding steps run through
the LSTM), gate order i, f, c, o, ``hard_sigmoid(x) = clip(0.2 x + 0.5, 0, 1)`` as recurrent
activation, and the backward LSTM run over the reversed sequence. Dropout is inactive at inference.
"""

from __future__ import annotations

import collections
import io
import json
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np

HEADS = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
#: Keras ``Tokenizer`` defaults used by tox-block.
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
NUM_WORDS = 20_000
MAX_LEN = 100
#: tox-block's own min-max rescaling of each head (``config.RESCALE_PROBA``).
RESCALE = {
    "toxic": (0.002116, 0.999858),
    "severe_toxic": (0.000011, 0.648682),
    "obscene": (0.000347, 0.997533),
    "threat": (0.000040, 0.918887),
    "insult": (0.000373, 0.986303),
    "identity_hate": (0.000074, 0.901117),
}
WEIGHTS_FILE = "toxblock.safetensors"
VOCAB_FILE = "toxblock_vocab.json"

_H5_WEIGHTS = {
    "embedding": "model_weights/embedding/embedding/embeddings:0",
    "fw_kernel": "model_weights/bidirectional/bidirectional/forward_lstm/kernel:0",
    "fw_recurrent": "model_weights/bidirectional/bidirectional/forward_lstm/recurrent_kernel:0",
    "fw_bias": "model_weights/bidirectional/bidirectional/forward_lstm/bias:0",
    "bw_kernel": "model_weights/bidirectional/bidirectional/backward_lstm/kernel:0",
    "bw_recurrent": "model_weights/bidirectional/bidirectional/backward_lstm/recurrent_kernel:0",
    "bw_bias": "model_weights/bidirectional/bidirectional/backward_lstm/bias:0",
    "dense_kernel": "model_weights/dense/dense/kernel:0",
    "dense_bias": "model_weights/dense/dense/bias:0",
    "out_kernel": "model_weights/dense_1/dense_1/kernel:0",
    "out_bias": "model_weights/dense_1/dense_1/bias:0",
}
_SHAPES = {
    "embedding": (NUM_WORDS, 50),
    "fw_kernel": (50, 200),
    "fw_recurrent": (50, 200),
    "fw_bias": (200,),
    "bw_kernel": (50, 200),
    "bw_recurrent": (50, 200),
    "bw_bias": (200,),
    "dense_kernel": (100, 50),
    "dense_bias": (50,),
    "out_kernel": (50, 6),
    "out_bias": (6,),
}


# --------------------------------------------------------------------------- conversion
class _Attrs:
    """Stand-in for the pickled TokenSequencer / keras Tokenizer: keeps the attribute dict only."""

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


class _RestrictedUnpickler(pickle.Unpickler):
    _SAFE = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("collections", "defaultdict"): collections.defaultdict,
        ("builtins", "int"): int,
    }
    _STUBS = {
        ("tox_block.data_processing.preprocessors", "TokenSequencer"),
        ("keras_preprocessing.text", "Tokenizer"),
    }

    def find_class(self, module: str, name: str):  # noqa: D102
        if (module, name) in self._SAFE:
            return self._SAFE[(module, name)]
        if (module, name) in self._STUBS:
            return type(name, (_Attrs,), {})
        raise pickle.UnpicklingError(
            f"tox-block encoder pickle refers to {module}.{name}, not allowed"
        )


def read_toxblock_tokenizer(encoder_pkl: bytes | str | Path) -> dict:
    """Tokenizer settings and the vocabulary (words of index 1..NUM_WORDS-1, in index order)."""
    data = encoder_pkl if isinstance(encoder_pkl, bytes) else Path(encoder_pkl).read_bytes()
    seq = _RestrictedUnpickler(io.BytesIO(data)).load()
    tok = seq.tokenizer
    num_words = int(tok.num_words)
    if (num_words, int(seq.max_sequence_length)) != (NUM_WORDS, MAX_LEN):
        raise ValueError(
            f"unexpected tox-block tokenizer settings: {num_words=}, {seq.max_sequence_length=}"
        )
    if not tok.lower or tok.split != " " or tok.char_level or tok.oov_token is not None:
        raise ValueError(
            "unexpected tox-block tokenizer settings (lower/split/char_level/oov_token)"
        )
    words = [None] * num_words
    for word, idx in tok.word_index.items():
        if idx < num_words:
            words[idx] = word
    if any(w is None for w in words[1:]):
        raise ValueError("tox-block word index has gaps below num_words")
    return {
        "filters": tok.filters,
        "lower": bool(tok.lower),
        "split": tok.split,
        "num_words": num_words,
        "max_len": int(seq.max_sequence_length),
        "padding": "pre",
        "truncating": "pre",
        "words": words[1:],
    }


def read_toxblock_weights(h5_path: str | Path) -> dict[str, np.ndarray]:
    """The network's weights from the Keras HDF5 file
    (checked against the expected architecture)."""
    import h5py

    with h5py.File(h5_path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        layers = [layer["class_name"] for layer in config["config"]["layers"]]
        expected = [
            "InputLayer",
            "Embedding",
            "Bidirectional",
            "GlobalMaxPooling1D",
            "Dense",
            "Dropout",
            "Dense",
        ]
        if layers != expected:
            raise ValueError(f"{h5_path}: unexpected tox-block architecture {layers}")
        lstm = config["config"]["layers"][2]["config"]
        lcfg = lstm["layer"]["config"]
        if (
            lstm["merge_mode"] != "concat"
            or lcfg["recurrent_activation"] != "hard_sigmoid"
            or lcfg["activation"] != "tanh"
            or not lcfg["return_sequences"]
            or config["config"]["layers"][1]["config"].get("mask_zero")
        ):
            raise ValueError(f"{h5_path}: unexpected LSTM settings {lcfg}")
        weights = {k: np.asarray(f[p][()], dtype=np.float32) for k, p in _H5_WEIGHTS.items()}
    for k, shape in _SHAPES.items():
        if weights[k].shape != shape:
            raise ValueError(f"{h5_path}: {k} has shape {weights[k].shape}, expected {shape}")
    return weights


def convert_toxblock(
    h5_path: str | Path, encoder_pkl: str | Path | bytes, out_dir: str | Path
) -> Path:
    """Write ``toxblock.safetensors`` and ``toxblock_vocab.json`` under ``out_dir``."""
    from safetensors.numpy import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = read_toxblock_weights(h5_path)
    vocab = read_toxblock_tokenizer(encoder_pkl)
    save_file(weights, str(out / WEIGHTS_FILE), metadata={"source": "tox-block 0.1.2 (MIT)"})
    (out / VOCAB_FILE).write_text(json.dumps(vocab), encoding="utf-8")
    return out


# --------------------------------------------------------------------------- inference
def hard_sigmoid(x):
    """Keras 2 ``hard_sigmoid``: clip(0.2 x + 0.5, 0,
    1) (works on numpy arrays and torch tensors)."""
    return (0.2 * x + 0.5).clip(0.0, 1.0)


class ToxBlock:
    """The tox-block network in torch. ``predict`` returns raw sigmoid probabilities (N, 6)."""

    heads = HEADS

    def __init__(self, weights: dict[str, np.ndarray], vocab: dict, num_threads: int | None = 1):
        import torch

        #: torch threads while the network runs (restored afterwards). One thread is the fastest
        #: for these small per-step matmuls and does not spin-wait on a shared CPU; None = leave as
        #: is.
        self.num_threads = num_threads
        self._prefix = None
        self.vocab = vocab
        self.max_len = int(vocab["max_len"])
        self.word_index = {w: i + 1 for i, w in enumerate(vocab["words"])}
        self._table = str.maketrans({c: vocab["split"] for c in vocab["filters"]})
        self.weights = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        t = {k: torch.from_numpy(v.copy()) for k, v in self.weights.items()}
        self._emb = t["embedding"]
        # input projections of both directions in one matmul; recurrences as one batched matmul
        self._kernel = torch.cat([t["fw_kernel"], t["bw_kernel"]], dim=1)  # (50, 400)
        self._bias = torch.cat([t["fw_bias"], t["bw_bias"]])  # (400,)
        self._recurrent = torch.stack([t["fw_recurrent"], t["bw_recurrent"]])  # (2, 50, 200)
        self._dense_k, self._dense_b = t["dense_kernel"], t["dense_bias"]
        self._out_k, self._out_b = t["out_kernel"], t["out_bias"]

    @classmethod
    def load(cls, directory: str | Path, num_threads: int | None = 1) -> ToxBlock:
        from safetensors.numpy import load_file

        d = Path(directory)
        wpath, vpath = d / WEIGHTS_FILE, d / VOCAB_FILE
        for p in (wpath, vpath):
            if not p.is_file():
                raise FileNotFoundError(
                    f"tox-block port file {p} is missing; run "
                    "`python -m llm_behavior.scoring.local_toxicity prepare`"
                )
        return cls(
            load_file(str(wpath)), json.loads(vpath.read_text(encoding="utf-8")), num_threads
        )

    # Keras text_to_word_sequence + texts_to_sequences + pad_sequences(pre, pre)
    def tokenize(self, text: str) -> list[int]:
        if self.vocab["lower"]:
            text = text.lower()
        words = text.translate(self._table).split(self.vocab["split"])
        get = self.word_index.get
        return [i for i in (get(w) for w in words if w) if i is not None]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        ids = np.zeros((len(texts), self.max_len), dtype=np.int64)
        for row, text in enumerate(texts):
            seq = self.tokenize(text)[-self.max_len :]
            if seq:
                ids[row, self.max_len - len(seq) :] = seq
        return ids

    def logits(self, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
        """Pre-sigmoid outputs of the six heads, float32 (N, 6).

        Texts are batched by token count (the results do not depend on the batching beyond float
        rounding): the forward LSTM then starts each batch from the shared state after the common
        all-padding prefix. Batches of 128 were the fastest per CPU-second (small matmuls stay in
        cache and batches of similar length skip more padding).
        """
        import torch

        ids = self.encode(texts)
        out = np.empty((len(texts), len(HEADS)), dtype=np.float32)
        order = np.argsort((ids > 0).sum(axis=1), kind="stable")
        previous = torch.get_num_threads()
        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        try:
            for start in range(0, len(texts), batch_size):
                rows = order[start : start + batch_size]
                out[rows] = self._forward(ids[rows])
        finally:
            torch.set_num_threads(previous)
        return out

    def predict(self, texts: Sequence[str], rescale: bool = False) -> np.ndarray:
        """Sigmoid probabilities (N, 6); ``rescale`` applies tox-block's own min-max rescaling."""
        p = 1.0 / (1.0 + np.exp(-self.logits(texts).astype(np.float64)))
        if rescale:
            lo = np.array([RESCALE[h][0] for h in HEADS])
            hi = np.array([RESCALE[h][1] for h in HEADS])
            p = np.abs((p - lo) / (hi - lo))
        return p

    def _pad_prefix(self):
        """Forward-LSTM (h, c, running max of h) after k all-padding steps, k = 0..max_len."""
        import torch

        if self._prefix is None:
            z0 = self._bias[:200] + self._emb[0] @ self._kernel[:, :200]
            h = torch.zeros(50)
            c = torch.zeros(50)
            hmax = torch.full((50,), -torch.inf)
            states = [(h, c, hmax)]
            for _ in range(self.max_len):
                h, c = self._cell(z0 + h @ self._recurrent[0], c)
                hmax = torch.maximum(hmax, h)
                states.append((h, c, hmax))
            self._prefix = states
        return self._prefix

    @staticmethod
    def _cell(z, c):
        import torch

        gates = hard_sigmoid(z)  # i, f, o use it; the c-gate slice is recomputed with tanh
        c = gates[..., 50:100] * c + gates[..., :50] * torch.tanh(z[..., 100:150])
        return gates[..., 150:] * torch.tanh(c), c

    def _forward(self, ids: np.ndarray) -> np.ndarray:
        import torch

        b, steps = ids.shape
        # columns 0..skip-1 are padding for every row: the forward LSTM's states there are shared
        nonpad = np.flatnonzero((ids != 0).any(axis=0))
        skip = int(nonpad[0]) if len(nonpad) else steps
        with torch.inference_mode():
            x = self._emb[torch.from_numpy(ids)]  # (B, T, 50)
            proj = torch.addmm(self._bias, x.reshape(b * steps, -1), self._kernel).reshape(
                b, steps, 400
            )
            fw = proj[:, :, :200].transpose(0, 1)  # (T, B, 200), forward in time
            bw = proj[:, :, 200:].flip(1).transpose(0, 1)  # (T, B, 200), over the reversed sequence
            h0, c0, m0 = self._pad_prefix()[skip]
            h = torch.stack([h0.expand(b, 50), torch.zeros(b, 50)])
            c = torch.stack([c0.expand(b, 50), torch.zeros(b, 50)])
            hmax = torch.stack([m0.expand(b, 50), torch.full((b, 50), -torch.inf)])
            # backward direction alone while the forward one is inside the shared padding prefix
            hb, cb, mb = h[1], c[1], hmax[1]
            for t in range(skip):
                hb, cb = self._cell(torch.addmm(bw[t], hb, self._recurrent[1]), cb)
                mb = torch.maximum(mb, hb)
            h, c, hmax = (
                torch.stack([h[0], hb]),
                torch.stack([c[0], cb]),
                torch.stack([hmax[0], mb]),
            )
            for t in range(skip, steps):
                z = torch.baddbmm(torch.stack([fw[t], bw[t]]), h, self._recurrent)
                h, c = self._cell(z, c)
                hmax = torch.maximum(hmax, h)
            pooled = torch.cat([hmax[0], hmax[1]], dim=1)  # concat merge: forward, backward
            hidden = torch.relu(torch.addmm(self._dense_b, pooled, self._dense_k))
            return torch.addmm(self._out_b, hidden, self._out_k).numpy()
