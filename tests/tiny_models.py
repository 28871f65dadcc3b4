"""Tiny random causal LMs with a real (trained-in-process) BPE tokenizer, for fast offline tests."""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "language models continue text one token at a time",
    "you are a helpful assistant and you answer politely",
    "shut up you stupid idiot, nobody likes you",
    "the weather today is sunny with a light breeze",
    "a sequential test bets against the null hypothesis",
] * 20


def make_tokenizer(chat_template: bool = True):
    """A byte-level BPE tokenizer (vocab ~300) trained on a small corpus, with pad/eos/bos."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        eos_token="<|im_end|>" if chat_template else "<|endoftext|>",
        pad_token="<pad>",
    )
    if chat_template:
        fast.chat_template = CHAT_TEMPLATE
    return fast


def make_tiny_llama(seed: int = 0, chat_template: bool = True, n_layers: int = 2, d: int = 32):
    """(model, tokenizer): a random LlamaForCausalLM with ``n_layers`` layers of width ``d``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = make_tokenizer(chat_template)
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=d,
        intermediate_size=2 * d,
        num_hidden_layers=n_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(cfg).eval()
    return model, tok


def save_tiny_llama(folder: Path, seed: int = 0, chat_template: bool = True) -> Path:
    """Save a tiny random Llama + tokenizer as a local safetensors checkpoint folder."""
    model, tok = make_tiny_llama(seed=seed, chat_template=chat_template)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


def direct_token_logprobs(lm, context: str, continuation: str) -> tuple[list[float], bool]:
    """(token log-probs, all greedy) of ``continuation`` after ``context`` by one unpadded full
    forward pass with ``log_softmax`` everywhere, on the backend's own token split."""
    import torch

    ctx_ids, cont_ids = lm.encode_pair(context, continuation)
    with torch.no_grad():
        logp = torch.log_softmax(lm.model(torch.tensor([ctx_ids + cont_ids])).logits[0].float(), -1)
    rows = logp[len(ctx_ids) - 1 : len(ctx_ids) - 1 + len(cont_ids)]
    target = torch.tensor(cont_ids)
    return rows.gather(-1, target[:, None])[:, 0].tolist(), bool((rows.argmax(-1) == target).all())
