"""Toxicity (or any label) from a local HF sequence-classification checkpoint, and Detoxify.

``hf_classifier`` loads any checkpoint folder on local disk (e.g. a RoBERTa toxicity model the
user has) with ``trust_remote_code=False`` and ``local_files_only=True``; ``detoxify`` reads a
Detoxify checkpoint file (``toxic_original-c1212f89.ckpt`` and friends: its training config plus
a state dict) without the detoxify package, and scores exactly as ``Detoxify.predict`` does
(sigmoid of the logits). Both score in length-sorted batches (little padding) under
``torch.inference_mode``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llm_behavior.scoring.base import Scorer, register_scorer, usable_texts

ACTIVATIONS = ("auto", "sigmoid", "softmax")


def metric_name(label: str) -> str:
    """A short, stable metric name from a class label ("Severe Toxic" -> "severe_toxic")."""
    name = re.sub(r"[^0-9a-z]+", "_", str(label).strip().lower()).strip("_")
    if not name:
        raise ValueError(f"label {label!r} gives an empty metric name; set metric_names")
    return name


def files_digest(paths: Sequence[Path]) -> str:
    """sha256 over the names and bytes of ``paths`` (sorted): identifies a checkpoint's content."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _check_builtin_architecture(folder: Path) -> None:
    """Refuse checkpoints whose architecture needs custom code (trust_remote_code stays off)."""
    from transformers import CONFIG_MAPPING

    config_file = folder / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(
            f"hf_classifier: {folder} has no config.json; is it a saved checkpoint?"
        )
    model_type = json.loads(config_file.read_text()).get("model_type")
    if model_type not in CONFIG_MAPPING:
        raise ValueError(
            f"hf_classifier: {folder} has model_type {model_type!r}, which transformers does not "
            "ship: it needs custom code (trust_remote_code), which this project never runs"
        )


class _BatchClassifier:
    """Runs a tokenizer + sequence-classification model over texts in length-sorted batches."""

    def __init__(self, model: Any, tokenizer: Any, batch_size: int, max_length: int, device: str):
        import torch

        if batch_size < 1 or max_length < 1:
            raise ValueError("batch_size and max_length must be >= 1")
        self.torch = torch
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.batch_size, self.max_length, self.device = batch_size, max_length, device

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), num_labels) float64 logits in input order."""
        n_labels = self.model.config.num_labels
        out = np.empty((len(texts), n_labels), dtype=np.float64)
        if not texts:
            return out
        lengths = [
            len(ids)
            for ids in self.tokenizer(list(texts), truncation=True, max_length=self.max_length)[
                "input_ids"
            ]
        ]
        order = np.argsort(lengths, kind="stable")
        with self.torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                enc = self.tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                out[idx] = self.model(**enc).logits.float().cpu().numpy()
        return out


def _activate(logits: np.ndarray, activation: str) -> np.ndarray:
    if activation == "sigmoid":
        return 1.0 / (1.0 + np.exp(-logits))
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def _score_rows(scorer: Any, texts: Sequence[str], probs_of: Any) -> pd.DataFrame:
    """Wide frame: NaN + reason for unusable texts, ``probs_of(valid texts)`` columns elsewhere."""
    out, valid = usable_texts(texts, scorer.metrics)
    if valid:
        probs = probs_of([texts[i] for i in valid])
        out.loc[valid, list(scorer.metrics)] = probs
    return out


@register_scorer("hf_classifier")
class HFClassifierScorer(Scorer):
    """Class probabilities from a local sequence-classification checkpoint folder.

    ``labels``: which classes to output (names from ``config.id2label`` or indices; default all).
    ``activation``: ``sigmoid`` (independent labels), ``softmax`` (exclusive classes) or ``auto``
    (sigmoid when ``config.problem_type`` is multi-label or there is one logit, else softmax).
    ``metric_names`` renames labels (e.g. ``{toxic: toxicity}``); otherwise labels are lower-cased.
    """

    def __init__(
        self,
        path: str,
        *,
        labels: Sequence[str | int] | None = None,
        activation: str = "auto",
        metric_names: Mapping[str, str] | None = None,
        batch_size: int = 32,
        max_length: int = 512,
        device: str = "cpu",
    ) -> None:
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

        folder = Path(path)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"hf_classifier: {path!r} is not a local folder; give the path of a saved "
                "sequence-classification checkpoint (no hub downloads at run time)"
            )
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"hf_classifier: activation must be one of {ACTIVATIONS}, got {activation!r}"
            )
        _check_builtin_architecture(folder)
        config = AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
        model = AutoModelForSequenceClassification.from_pretrained(
            folder, local_files_only=True, trust_remote_code=False
        )
        tokenizer = AutoTokenizer.from_pretrained(
            folder, local_files_only=True, trust_remote_code=False
        )
        id2label = {int(k): str(v) for k, v in config.id2label.items()}
        self.label_index = self._select(labels, id2label)
        names = dict(metric_names or {})
        unknown = set(names) - {id2label[i] for i in self.label_index}
        if unknown:
            raise ValueError(
                f"hf_classifier: metric_names for unselected/unknown labels {sorted(unknown)}"
            )
        self.metrics = tuple(
            names.get(id2label[i]) or metric_name(id2label[i]) for i in self.label_index
        )
        if len(set(self.metrics)) != len(self.metrics):
            raise ValueError(
                f"hf_classifier: duplicate metric names {self.metrics}; set metric_names"
            )
        if activation == "auto":
            multi = config.problem_type == "multi_label_classification" or config.num_labels == 1
            activation = "sigmoid" if multi else "softmax"
        self.activation = activation
        self.folder = folder
        self._digest: str | None = None
        self._runner = _BatchClassifier(model, tokenizer, batch_size, max_length, device)

    @staticmethod
    def _select(labels: Sequence[str | int] | None, id2label: dict[int, str]) -> list[int]:
        if labels is None:
            return sorted(id2label)
        by_name = {v: k for k, v in id2label.items()}
        index = []
        for label in labels:
            if isinstance(label, int) and label in id2label:
                index.append(label)
            elif str(label) in by_name:
                index.append(by_name[str(label)])
            else:
                raise ValueError(
                    f"hf_classifier: unknown label {label!r}; the model has {id2label}"
                )
        return index

    def fingerprint(self) -> dict[str, Any]:
        if self._digest is None:
            self._digest = files_digest([p for p in self.folder.iterdir() if p.is_file()])
        return {"transformers": version("transformers"), "checkpoint_sha256": self._digest}

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), len(metrics)) probabilities of the selected labels."""
        return _activate(self._runner.logits(texts), self.activation)[:, self.label_index]

    def score(
        self, texts: Sequence[str], references: Sequence[str | None] | None = None
    ) -> pd.DataFrame:
        return _score_rows(self, texts, self.probabilities)


DETOXIFY_FILES = {
    "original": "toxic_original-c1212f89.ckpt",
    "unbiased": "toxic_debiased-c7548aa0.ckpt",
    "multilingual": "multilingual_debiased-0b549669.ckpt",
    "original-small": "original-albert-0e1d6498.ckpt",
    "unbiased-small": "unbiased-albert-c8519128.ckpt",
}
# Detoxify renames some Jigsaw classes; we keep its names so scores match Detoxify.predict.
DETOXIFY_RENAME = {
    "toxic": "toxicity",
    "identity_hate": "identity_attack",
    "severe_toxic": "severe_toxicity",
}


def detoxify_checkpoint_path(model_type: str, checkpoint: str | None) -> Path:
    """The local checkpoint file: ``checkpoint`` or Detoxify's file in the torch hub cache."""
    import torch

    if model_type not in DETOXIFY_FILES:
        raise ValueError(
            f"detoxify: unknown model_type {model_type!r}; known: {sorted(DETOXIFY_FILES)}"
        )
    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"detoxify: checkpoint file {checkpoint} does not exist")
        return path
    path = Path(torch.hub.get_dir()) / "checkpoints" / DETOXIFY_FILES[model_type]
    if not path.is_file():
        raise FileNotFoundError(
            f"detoxify: the weights of model_type {model_type!r} are not on this machine (looked "
            f"for {path}). Detoxify downloads them from GitHub, which this project never does at "
            f"run time: copy {DETOXIFY_FILES[model_type]} there or pass `checkpoint: <file>`, plus "
            "`huggingface_config_path: <folder>` with the base model's config and tokenizer."
        )
    return path


@register_scorer("detoxify")
class DetoxifyScorer(Scorer):
    """Detoxify's multi-label toxicity (sigmoid per class) from a local checkpoint file."""

    def __init__(
        self,
        *,
        model_type: str = "original",
        checkpoint: str | None = None,
        huggingface_config_path: str | None = None,
        batch_size: int = 32,
        max_length: int = 512,
        device: str = "cpu",
    ) -> None:
        import torch
        import transformers

        self.path = detoxify_checkpoint_path(model_type, checkpoint)
        try:
            loaded = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001  (any unpickling failure: say which file)
            raise ValueError(f"detoxify: cannot read checkpoint {self.path}: {exc}") from exc
        if not isinstance(loaded, dict) or "config" not in loaded or "state_dict" not in loaded:
            raise ValueError(
                f"detoxify: {self.path} is not a Detoxify "
                "checkpoint (needs 'config' and 'state_dict')"
            )
        arch = loaded["config"]["arch"]["args"]
        classes = [
            DETOXIFY_RENAME.get(c, c) for c in loaded["config"]["dataset"]["args"]["classes"]
        ]
        model_name, tokenizer_name = str(arch["model_name"]), str(arch["tokenizer_name"])
        if not model_name.endswith("ForSequenceClassification") or not hasattr(
            transformers, model_name
        ):
            raise ValueError(f"detoxify: unsupported model class {model_name!r} in {self.path}")
        if not tokenizer_name.endswith(("Tokenizer", "TokenizerFast")) or not hasattr(
            transformers, tokenizer_name
        ):
            raise ValueError(
                f"detoxify: unsupported tokenizer class {tokenizer_name!r} in {self.path}"
            )
        base = huggingface_config_path or arch["model_type"]
        try:
            config = transformers.AutoConfig.from_pretrained(base, local_files_only=True)
            tokenizer = getattr(transformers, tokenizer_name).from_pretrained(
                base, local_files_only=True
            )
        except OSError as exc:
            raise FileNotFoundError(
                f"detoxify: the config/tokenizer of base model {base!r} are not available locally; "
                "pass `huggingface_config_path:` a folder holding them"
            ) from exc
        config.num_labels = int(arch["num_classes"])
        model = getattr(transformers, model_name).from_pretrained(
            None, config=config, state_dict=loaded["state_dict"]
        )
        if len(classes) != config.num_labels:
            raise ValueError(
                f"detoxify: {len(classes)} class names for "
                f"{config.num_labels} outputs in {self.path}"
            )
        self.metrics = tuple(metric_name(c) for c in classes)
        self.model_type = model_type
        self._runner = _BatchClassifier(model, tokenizer, batch_size, max_length, device)

    def fingerprint(self) -> dict[str, Any]:
        return {
            "transformers": version("transformers"),
            "checkpoint_sha256": files_digest([self.path]),
        }

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), n_classes) sigmoid probabilities, as ``Detoxify.predict``."""
        return _activate(self._runner.logits(texts), "sigmoid")

    def score(
        self, texts: Sequence[str], references: Sequence[str | None] | None = None
    ) -> pd.DataFrame:
        return _score_rows(self, texts, self.probabilities)
