"""The log-probs the loss uses are those the completions were sampled under, padding and all."""

from __future__ import annotations

import pytest
import torch

from referee.trainer_client.grpo.config import TinyModelConfig
from referee.trainer_client.grpo.model import tiny_model
from referee.trainer_client.grpo.tensors import collate, completion_logps
from referee.trainer_client.grpo.tokenizer import CompactTokenizer

TOKENIZER = CompactTokenizer.from_texts(["Compute 1 + 2 + 3. <think> 1 + 2 = 3. </think>"])


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_logps_match_generate_s_own_distribution(temperature: float) -> None:
    model = tiny_model(
        TinyModelConfig(
            hidden_size=32, num_layers=2, num_heads=2, num_kv_heads=1, intermediate_size=64
        ),
        TOKENIZER,
        TOKENIZER.vocab_size,
    ).eval()
    pad = TOKENIZER.pad_token_id
    # Prompts of different lengths: the short one is left-padded in both passes.
    prompts = [TOKENIZER.encode("Compute 1 + 2 + 3. <think>"), TOKENIZER.encode("1 + 2")]
    width = max(map(len, prompts))
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    torch.manual_seed(0)
    out = model.generate(
        input_ids=ids,
        attention_mask=mask,
        do_sample=True,
        temperature=temperature,
        top_k=0,
        top_p=1.0,
        max_new_tokens=6,
        min_new_tokens=6,
        pad_token_id=pad,
        eos_token_id=None,
        output_logits=True,
        return_dict_in_generate=True,
    )
    completions = out.sequences[:, width:]
    logits = torch.stack(out.logits, dim=1) / temperature  # raw logits of each sampled step
    expected = logits.log_softmax(-1).gather(-1, completions.unsqueeze(-1)).squeeze(-1)
    batch = collate(prompts, completions.tolist(), pad, torch.device("cpu"))
    with torch.no_grad():
        got, _ = completion_logps(model, batch, temperature)
    assert torch.allclose(got, expected, atol=1e-4)
