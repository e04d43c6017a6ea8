"""Checkpoints that a run resumes from exactly where it stopped.

`<output>/checkpoint-<step>/` holds `model/` (weights and tokenizer, loadable as a model
directory by another recipe), `trainer_state.pt` (optimizer and scheduler state, the step, the
prompt sampler's position, every random generator's state) and the `recipe.yaml` it ran with.
A checkpoint is written to a temporary directory and renamed into place, so a crash mid-write
never leaves a half checkpoint that resume would pick; only the newest `save_total_limit` are
kept. With `off_policy_steps: 1` the batch generated ahead is not saved: the sampler position is
saved as it was before that batch, so resume generates it again, from the same prompts (with
fresh samples). Left out: sharded or distributed optimizer state.
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path
from typing import Any

import torch
import yaml
from transformers import AutoModelForCausalLM

from referee.trainer_client.grpo.config import Recipe
from referee.trainer_client.grpo.model import Models, save_pretrained

_NAME = re.compile(r"^checkpoint-(\d+)$")


def checkpoints(directory: str | Path) -> list[Path]:
    """Complete checkpoints under `directory`, oldest first."""
    path = Path(directory)
    if not path.is_dir():
        return []
    found = [
        (int(m.group(1)), p)
        for p in path.iterdir()
        if (m := _NAME.match(p.name)) and (p / "trainer_state.pt").is_file()
    ]
    return [p for _, p in sorted(found)]


def latest_checkpoint(directory: str | Path) -> Path | None:
    found = checkpoints(directory)
    return found[-1] if found else None


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    directory: str | Path,
    step: int,
    *,
    models: Models,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    trainer_state: dict[str, Any],
    recipe: Recipe,
    keep: int | None,
) -> Path:
    root = Path(directory)
    final = root / f"checkpoint-{step:06d}"
    partial = root / f".partial-checkpoint-{step:06d}"
    shutil.rmtree(partial, ignore_errors=True)
    save_pretrained(models.policy, models.tokenizer, partial / "model")
    torch.save(
        {
            "step": step,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "trainer": trainer_state,
            "rng": _rng_state(),
        },
        partial / "trainer_state.pt",
    )
    (partial / "recipe.yaml").write_text(
        yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)
    )
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    if keep is not None:
        for old in checkpoints(root)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(
    path: str | Path,
    *,
    models: Models,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> tuple[int, dict[str, Any]]:
    """Restore weights, optimizer, scheduler and RNGs; return (step, trainer state)."""
    path = Path(path)
    saved = AutoModelForCausalLM.from_pretrained(str(path / "model"))
    models.policy.load_state_dict(saved.state_dict())
    del saved
    # Our own file, written by save_checkpoint: it holds Python RNG tuples and plain dicts.
    state = torch.load(path / "trainer_state.pt", map_location="cpu", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    _restore_rng(state["rng"])
    return int(state["step"]), dict(state["trainer"])
