"""The policy, its frozen reference and the tokenizer, from a recipe's `model` section.

A model comes from a directory (`AutoModelForCausalLM`, offline: nothing is downloaded) or is
built tiny and random (`Qwen2Config`) over a `CompactTokenizer` of the task's texts. A
directory written by `save_pretrained` here holds a compact tokenizer when the model was tiny,
else the transformers tokenizer. The reference is a second, frozen copy of the starting
weights, loaded only when beta > 0. On a GPU that supports it, forward passes run under bf16
autocast with float32 weights (mixed precision) unless `param_dtype` asks for bf16 weights.
Left out: quantisation, PEFT, device maps across several GPUs.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2Config

from referee.trainer_client.grpo.config import ModelConfig, TinyModelConfig
from referee.trainer_client.grpo.tokenizer import CompactTokenizer, TokenizerLike

log = logging.getLogger(__name__)

# A transformers `PreTrainedModel`. Typed as Any: most of its methods (generate, eval,
# save_pretrained, gradient_checkpointing_enable) are untyped or wrapped in ways mypy rejects.
Model = Any


@dataclass
class Models:
    policy: Model
    reference: Model | None
    tokenizer: TokenizerLike
    device: torch.device
    autocast_dtype: torch.dtype | None

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        return autocast(self.device, self.autocast_dtype)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_autocast(config: ModelConfig, device: torch.device) -> torch.dtype | None:
    if config.mixed_precision == "no":
        return None
    if config.mixed_precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def autocast(
    device: torch.device,
    dtype: torch.dtype | None,
) -> contextlib.AbstractContextManager[Any]:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def tiny_model(config: TinyModelConfig, tokenizer: TokenizerLike, vocab_size: int) -> Model:
    """A randomly initialised Qwen2 decoder; weights depend only on `config.seed`."""
    qwen = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_kv_heads,
        intermediate_size=config.intermediate_size,
        max_position_embeddings=config.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with _seeded(config.seed):
        model = AutoModelForCausalLM.from_config(qwen)  # type: ignore[no-untyped-call]
    return model


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    # Fork the RNG so building a model does not shift the caller's random stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def load_tokenizer(path: str | Path) -> TokenizerLike:
    if CompactTokenizer.saved_in(path):
        return CompactTokenizer.from_pretrained(path)
    tokenizer: TokenizerLike = AutoTokenizer.from_pretrained(str(path))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token  # type: ignore[attr-defined]
    return tokenizer


def load_models(config: ModelConfig, beta: float, texts: Iterable[str] = ()) -> Models:
    """Policy (trainable), reference (frozen, only when beta > 0) and tokenizer.

    `texts` builds the compact vocabulary of a tiny model; a loaded model ignores it.
    """
    device = resolve_device(config.device)
    param_dtype = torch.bfloat16 if config.param_dtype == "bfloat16" else torch.float32
    policy: Model
    if config.tiny is not None:
        compact = CompactTokenizer.from_texts(texts)
        tokenizer: TokenizerLike = compact
        policy = tiny_model(config.tiny, compact, compact.vocab_size)
        log.info(
            "built a tiny Qwen2 model: %d parameters, vocabulary %d",
            sum(p.numel() for p in policy.parameters()),
            compact.vocab_size,
        )
    else:
        assert config.name_or_path is not None  # the config validator guarantees it
        tokenizer = load_tokenizer(config.name_or_path)
        policy = AutoModelForCausalLM.from_pretrained(config.name_or_path, dtype=param_dtype)
    autocast_dtype = resolve_autocast(config, device)
    reference = None
    if beta > 0:
        reference = copy.deepcopy(policy)
        reference.requires_grad_(False)
        reference.eval()
        # Never trained, so it needs no float32 master copy: under bf16 autocast it runs in
        # bf16 anyway, and storing it so halves its memory.
        reference.to(device=device, dtype=autocast_dtype or param_dtype)
    policy.to(device=device, dtype=param_dtype)
    if config.gradient_checkpointing:
        # transformers 5 renamed it; older releases only have the old name.
        enable = (
            getattr(policy, "activation_checkpointing_enable", None)
            or policy.gradient_checkpointing_enable
        )
        enable()
        policy.config.use_cache = False
    return Models(policy, reference, tokenizer, device, autocast_dtype)


def save_pretrained(policy: Model, tokenizer: TokenizerLike, directory: str | Path) -> None:
    """Write weights and tokenizer so that `model.name_or_path: <directory>` loads them back."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    policy.save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
