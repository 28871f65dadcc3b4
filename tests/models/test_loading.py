"""Model loading from local folders: errors, quantization checks, the Kedro dataset."""

import pytest
from tiny_models import save_tiny_llama

from llm_behavior.datasets import LanguageModelDataset
from llm_behavior.models import load_language_model
from llm_behavior.models.loading import ModelLoadError, quantization_config, resolve_source
from llm_behavior.models.spec import ModelSpec


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return save_tiny_llama(tmp_path_factory.mktemp("tiny") / "ckpt")


def test_unknown_source_names_the_options():
    with pytest.raises(
        ModelLoadError, match="Unknown model 'no-such-model'.*smollm2-135m-instruct"
    ):
        resolve_source(ModelSpec(source="no-such-model"))
    with pytest.raises(ModelLoadError, match="not a packaged alias"):
        resolve_source(ModelSpec(source="someorg/not-in-cache"))


def test_folder_without_config_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="no config.json"):
        resolve_source(ModelSpec(source=str(tmp_path)))


def test_quantization_on_unsupported_device_is_a_clear_error():
    with pytest.raises(ModelLoadError, match="not supported on device 'mps'"):
        quantization_config(ModelSpec(source="x", quantization="4bit-nf4", device="mps"))
    with pytest.raises(ModelLoadError, match="CUDA"):
        import torch

        if torch.cuda.is_available():  # pragma: no cover - only on GPU machines
            raise ModelLoadError("CUDA available: nothing to check")
        quantization_config(ModelSpec(source="x", quantization="8bit", device="cuda"))


def test_dataset_loads_once_and_shares_the_model(tiny_folder):
    ds = LanguageModelDataset(
        spec={"source": str(tiny_folder), "generation": {"max_new_tokens": 4}}
    )
    lm1, lm2 = ds.load(), ds.load()
    assert lm1 is lm2
    assert lm1.provenance()["revision"].startswith("files-sha256:")
    assert "spec" in ds._describe()
    with pytest.raises(Exception, match="read-only"):
        ds.save(lm1)


def test_trust_remote_code_required_but_off(tiny_folder, tmp_path):
    import json
    import shutil

    folder = tmp_path / "custom"
    shutil.copytree(tiny_folder, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["auto_map"] = {"AutoConfig": "configuration_custom.CustomConfig"}
    cfg["model_type"] = "custom-thing"
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match="trust_remote_code"):
        load_language_model({"source": str(folder)})


@pytest.mark.parametrize("quantization", ["8bit", "4bit-nf4"])
def test_bitsandbytes_quantization_on_cpu(tiny_folder, quantization):
    pytest.importorskip("bitsandbytes")
    # bitsandbytes only quantizes Linear layers wider than its block: use a wider tiny model
    import torch
    from tiny_models import make_tokenizer
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = make_tokenizer()
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
    )
    torch.manual_seed(0)
    folder = tiny_folder.parent / f"wide-{quantization}"
    if not folder.exists():
        LlamaForCausalLM(cfg).save_pretrained(folder)
        tok.save_pretrained(folder)
    lm = load_language_model({"source": str(folder), "quantization": quantization})
    import bitsandbytes as bnb

    kinds = {type(m).__name__ for m in lm.model.modules()}
    assert ({"Linear8bitLt"} if quantization == "8bit" else {"Linear4bit"}) & kinds
    assert lm.provenance()["quantization_config"] is not None
    out = lm.generate(
        ["the quick brown"], lm.spec.generation.__class__(max_new_tokens=3, do_sample=False)
    )
    assert out[0].n_new_tokens >= 1
    assert bnb.__version__
