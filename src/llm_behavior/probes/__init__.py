"""Probing: relate what models do (toxicity of their outputs) to what they encode (hidden states).

* :mod:`.extraction` - encodings of prompts and generations for every layer, one forward pass each,
  streamed into an :class:`.store.ActivationStore` (float16 memory-mapped ``.npy`` per layer).
* :mod:`.linear` - closed-form ridge (leave-one-out regularisation) and logistic probes, all
  layers and targets at once.
* :mod:`.probing` - the four aligned-probing scenarios, KFold x seeds, control task, summaries.
* :mod:`.mdl` - online code length in bits and compression.
* :mod:`.behaviour` - EMT and toxicity probability of the probed prompts
  (definitions: :mod:`llm_behavior.profiles.toxicity`).
"""

from llm_behavior.probes.behaviour import toxicity_summary
from llm_behavior.probes.extraction import extract_activations
from llm_behavior.probes.linear import logistic_fit, pearson_r, r2_score, ridge_fit, roc_auc
from llm_behavior.probes.mdl import online_code
from llm_behavior.probes.probing import (
    SCENARIOS,
    ProbeSettings,
    Target,
    build_targets,
    probe_target,
    summarize,
)
from llm_behavior.probes.store import ActivationStore, layer_name

__all__ = [
    "SCENARIOS",
    "ActivationStore",
    "ProbeSettings",
    "Target",
    "build_targets",
    "extract_activations",
    "layer_name",
    "logistic_fit",
    "online_code",
    "pearson_r",
    "probe_target",
    "r2_score",
    "ridge_fit",
    "roc_auc",
    "summarize",
    "toxicity_summary",
]
