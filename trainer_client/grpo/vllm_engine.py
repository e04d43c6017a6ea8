"""Generation with vLLM, colocated on the training GPU, when vLLM is installed.

vLLM samples the G completions of every prompt (`SamplingParams(n=G)`) from a copy of the
weights held in its own engine; after each optimizer step `sync_weights` loads the policy's new
weights into that copy (as TRL's colocate mode does), so generation stays on-policy. The engine
runs in-process (`VLLM_ENABLE_V1_MULTIPROCESSING=0`) so its model object is reachable.

Not exercised here: no machine of this project has vLLM or a GPU, so this module is imported
only behind `vllm_available()`, and the tests check the fallback to transformers instead. The
engine internals used by `sync_weights` move between vLLM releases; it fails loudly if they do.
Left out: server mode (a separate vLLM process on other GPUs), tensor parallelism, sleep mode.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from referee.trainer_client.grpo.config import GenerationConfig


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


class VLLMGenerator:
    name = "vllm"

    def __init__(
        self,
        model_path: str,
        config: GenerationConfig,
        *,
        seed: int,
        eos_id: int,
        dtype: str = "bfloat16",
    ) -> None:
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        from vllm import LLM

        self.config = config
        self.eos_id = eos_id
        self.llm: Any = LLM(
            model=model_path,
            dtype=dtype,
            seed=seed,
            enable_prefix_caching=True,
            gpu_memory_utilization=config.vllm_gpu_memory_utilization,
            max_model_len=config.max_prompt_length + config.max_completion_length,
        )

    def generate(self, prompts: list[list[int]], n: int) -> list[list[int]]:
        from vllm import SamplingParams

        params = SamplingParams(
            n=n,
            temperature=self.config.temperature,
            top_p=self.config.top_p,
            top_k=self.config.top_k if self.config.top_k > 0 else -1,
            max_tokens=self.config.max_completion_length,
        )
        outputs = self.llm.generate(
            [{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False
        )
        completions = []
        for output in outputs:
            for choice in output.outputs:
                ids = list(choice.token_ids)
                # A completion that stopped on EOS ends with it, as transformers' do.
                if choice.finish_reason == "stop" and (not ids or ids[-1] != self.eos_id):
                    ids.append(self.eos_id)
                completions.append(ids)
        return completions

    def sync_weights(self, policy: Any) -> None:
        try:
            engine_model = (
                self.llm.llm_engine.model_executor.driver_worker.worker.model_runner.model
            )
        except AttributeError as exc:
            raise RuntimeError(
                "this vLLM release does not expose the colocated model where expected; "
                "use generation.backend: transformers"
            ) from exc
        engine_model.load_weights(policy.state_dict().items())
