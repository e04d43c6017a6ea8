"""The GRPO loop on a tiny random model with a scripted scorer (no service): what it trains on,
what it logs, how it resumes, and when scoring overlaps generation and updates."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from referee.trainer_client.grpo.config import Recipe
from referee.trainer_client.grpo.metrics import read_metrics
from referee.trainer_client.grpo.rollout import sequence_logps
from referee.trainer_client.grpo.trainer import GRPOTrainer
from referee.verifiers.contract import Item, Result, ScoreResult

RewardOf = Callable[[Item], float | None]


class ScriptedScorer:
    """Rewards from a function of the item; records each call's item ids."""

    def __init__(self, reward_of: RewardOf) -> None:
        self.reward_of = reward_of
        self.calls: list[list[str]] = []
        self.on_call: Callable[[list[Item]], None] | None = None

    def score(self, items: Sequence[Item], timeout_s: float | None = None) -> list[Result]:
        self.calls.append([str(i.id) for i in items])
        if self.on_call is not None:
            self.on_call(list(items))
        results = []
        for item in items:
            reward = self.reward_of(item)
            results.append(
                Result(
                    id=item.id,
                    reward=reward,
                    scores={"math": ScoreResult(score=reward, verdict="scripted")},
                )
            )
        return results


def digits_reward(item: Item) -> float:
    """Reward the share of digits in the completion: varies within groups, so there is signal."""
    text = item.completion
    return sum(c.isdigit() for c in text) / max(len(text), 1)


def recipe(tmp_path: Path, **grpo: Any) -> Recipe:
    return Recipe.model_validate(
        {
            "model": {
                "tiny": {
                    "hidden_size": 16,
                    "num_layers": 1,
                    "num_heads": 2,
                    "num_kv_heads": 1,
                    "intermediate_size": 32,
                },
                "device": "cpu",
            },
            "data": {"arithmetic": {"n_train": 40, "n_eval": 4}},
            "generation": {"max_completion_length": 8, "max_prompt_length": 160},
            "grpo": {
                "num_generations": 4,
                "prompts_per_step": 2,
                "micro_batch_size": 3,
                "learning_rate": 1e-2,
                "max_steps": 2,
                **grpo,
            },
            "output": {"dir": str(tmp_path / "run"), "progress": False, "save_steps": 0},
        }
    )


def weights(trainer: GRPOTrainer) -> list[torch.Tensor]:
    return [p.detach().clone() for p in trainer.models.policy.parameters()]


def changed(before: list[torch.Tensor], trainer: GRPOTrainer) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, weights(trainer), strict=True))


def test_metrics_have_every_promised_field(tmp_path: Path) -> None:
    trainer = GRPOTrainer(recipe(tmp_path), scorer=ScriptedScorer(digits_reward))
    trainer.train()
    record = read_metrics(tmp_path / "run")[-1]
    for key in [
        "reward/mean",
        "reward/std",
        "rewards/math/mean",
        "rewards/math/std",
        "accuracy",
        "kl",
        "clip_ratio/region_mean",
        "entropy",
        "completion_length/mean",
        "time/generate",
        "time/score_wait",
        "time/update",
        "time/step",
        "grad_norm",
    ]:
        assert key in record, key
    assert [r["step"] for r in read_metrics(tmp_path / "run")] == [1, 2]


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo", "dapo"])
def test_every_loss_type_trains(tmp_path: Path, loss_type: str) -> None:
    trainer = GRPOTrainer(
        recipe(tmp_path, loss_type=loss_type, max_steps=1), scorer=ScriptedScorer(digits_reward)
    )
    before = weights(trainer)
    trainer.train()
    assert changed(before, trainer)


def test_none_rewards_are_not_trained_on(tmp_path: Path) -> None:
    # Every second completion has no reward: only the others enter the update.
    counter = iter(range(10**6))
    scorer = ScriptedScorer(lambda item: None if next(counter) % 2 else digits_reward(item))
    history = GRPOTrainer(recipe(tmp_path, max_steps=1), scorer=scorer).train()
    assert history[0]["samples_trained"] == 4  # 8 completions, 4 scored
    assert history[0]["reward/null_frac"] == 0.5


def test_all_none_rewards_skip_the_update(tmp_path: Path) -> None:
    trainer = GRPOTrainer(recipe(tmp_path, max_steps=1), scorer=ScriptedScorer(lambda _: None))
    before = weights(trainer)
    history = trainer.train()
    assert history[0]["samples_trained"] == 0
    assert not changed(before, trainer)


def test_zero_variance_groups_are_dropped_when_asked(tmp_path: Path) -> None:
    trainer = GRPOTrainer(
        recipe(tmp_path, max_steps=1, drop_zero_variance_groups=True),
        scorer=ScriptedScorer(lambda _: 1.0),
    )
    before = weights(trainer)
    history = trainer.train()
    assert history[0]["frac_reward_zero_std"] == 1.0
    assert history[0]["samples_trained"] == 0
    assert not changed(before, trainer)


def test_beta_zero_loads_no_reference(tmp_path: Path) -> None:
    trainer = GRPOTrainer(
        recipe(tmp_path, beta=0.0, max_steps=1), scorer=ScriptedScorer(digits_reward)
    )
    assert trainer.models.reference is None
    assert "kl" not in trainer.train()[0]


def test_stored_old_logps_are_the_generating_policy_s(tmp_path: Path) -> None:
    trainer = GRPOTrainer(recipe(tmp_path, num_iterations=2), scorer=ScriptedScorer(digits_reward))
    from referee.trainer_client.grpo.scoring import BackgroundScorer

    background = BackgroundScorer(trainer.scorer)
    try:
        pending = trainer._rollout(background, 1)
        pending.wait()
    finally:
        background.close()
    assert pending.old_logps is not None
    again = sequence_logps(trainer.models.policy, trainer.models, pending.samples, 1.0, 8)
    for stored, recomputed in zip(pending.old_logps, again, strict=True):
        assert torch.allclose(stored, recomputed, atol=1e-5)


def test_resume_continues_where_the_run_stopped(tmp_path: Path) -> None:
    straight = GRPOTrainer(
        recipe(tmp_path / "a", max_steps=3), scorer=ScriptedScorer(digits_reward)
    )
    straight.train()
    first = GRPOTrainer(
        recipe(tmp_path / "b", max_steps=2, seed=0), scorer=ScriptedScorer(digits_reward)
    )
    first.train()  # saves at its last step
    resumed = GRPOTrainer(recipe(tmp_path / "b", max_steps=3), scorer=ScriptedScorer(digits_reward))
    resumed.train(resume=True)
    assert [r["step"] for r in read_metrics(tmp_path / "b" / "run")] == [1, 2, 3]
    for a, b in zip(weights(straight), weights(resumed), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def _step_when_scored(tmp_path: Path, off_policy: int) -> dict[int, int]:
    """For each rollout step, the trainer's step count when its items reached the scorer."""
    scorer = ScriptedScorer(digits_reward)
    trainer = GRPOTrainer(recipe(tmp_path, max_steps=3, off_policy_steps=off_policy), scorer=scorer)
    seen: dict[int, int] = {}

    def record(items: list[Item]) -> None:
        rollout_step = int(str(items[0].id).split("-")[0][1:])
        seen.setdefault(rollout_step, trainer.step)

    scorer.on_call = record
    trainer.train()
    return seen


@pytest.mark.parametrize(
    ("off_policy", "expected"),
    [(0, {1: 0, 2: 1, 3: 2}), (1, {1: 0, 2: 0, 3: 1})],
    ids=["on-policy", "one-step-off-policy"],
)
def test_off_policy_scores_the_next_batch_before_the_update(
    tmp_path: Path,
    off_policy: int,
    expected: dict[int, int],
) -> None:
    assert _step_when_scored(tmp_path, off_policy) == expected


def test_chunks_are_scored_while_later_chunks_generate(tmp_path: Path) -> None:
    # The scorer of the first chunk waits until the second chunk has been generated: a
    # trainer that waited for the score before generating more would never get there.
    trainer = GRPOTrainer(
        recipe(tmp_path, max_steps=1).model_copy(update={}), scorer=ScriptedScorer(digits_reward)
    )
    trainer.recipe.generation.chunk_prompts = 1
    generated = threading.Event()
    calls = 0
    original = trainer.generator.generate

    def counting_generate(prompts: list[list[int]], n: int) -> list[list[int]]:
        nonlocal calls
        calls += 1
        out = original(prompts, n)
        if calls == 2:
            generated.set()
        return out

    trainer.generator.generate = counting_generate  # type: ignore[method-assign]
    waited: list[bool] = []
    scorer = trainer.scorer
    assert isinstance(scorer, ScriptedScorer)
    scorer.on_call = lambda items: waited.append(generated.wait(timeout=30))
    trainer.train()
    assert waited and waited[0], "the first chunk's scoring did not overlap the second's generation"
    assert len(scorer.calls) == 2


def test_tensorboard_or_a_clear_fallback(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = recipe(tmp_path, max_steps=1)
    config.output.tensorboard = True
    GRPOTrainer(config, scorer=ScriptedScorer(digits_reward)).train()
    events = list((tmp_path / "run").glob("tensorboard/events.*"))
    assert events or "tensorboard package is not installed" in caplog.text


def test_off_policy_checkpoint_does_not_skip_the_lookahead_prompts(tmp_path: Path) -> None:
    config = recipe(tmp_path, max_steps=2, off_policy_steps=1)
    config.output.save_steps = 1
    GRPOTrainer(config, scorer=ScriptedScorer(digits_reward)).train()
    state = torch.load(
        tmp_path / "run" / "checkpoint-000001" / "trainer_state.pt", weights_only=False
    )
    # At step 1 the batch of step 2 had been drawn already; resume must draw it again.
    assert state["trainer"]["sampler"] == {"epoch": 0, "cursor": 2}
