"""`referee-train --config recipe.yaml`: run a GRPO recipe against a Referee service.

    referee-train --config examples/grpo_gpu.yaml \
        --set grpo.max_steps=200 --set rewards.url=http://10.0.0.5:8000 [--resume]

`--set section.key=value` overrides any recipe field (the value is read as YAML). `--resume`
continues from the newest checkpoint under `output.dir` (or `--resume PATH` from that one).
The service is checked first (`/readyz`), so a wrong URL fails in a second, not after the
model has loaded. Exit codes: 0 done, 1 the service is not reachable or not ready, 2 a bad
recipe or argument.
"""

from __future__ import annotations

import argparse
import logging
import sys

from pydantic import ValidationError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="referee-train", description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="recipe YAML")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe field (repeatable)",
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        help="resume from the newest checkpoint in output.dir, or from PATH",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Imported here: --help must not pay for torch.
    from referee.trainer_client.grpo.config import load_recipe

    try:
        recipe = load_recipe(args.config, args.overrides)
    except (OSError, ValueError, ValidationError) as exc:
        print(f"referee-train: {exc}", file=sys.stderr)
        return 2
    from referee.trainer_client.errors import RefereeClientError
    from referee.trainer_client.grpo.trainer import GRPOTrainer, reward_client

    scorer = reward_client(recipe)
    try:
        scorer.health()
    except RefereeClientError as exc:
        print(
            f"referee-train: the reward service at {recipe.rewards.url} is not ready: {exc}",
            file=sys.stderr,
        )
        return 1
    with scorer:
        history = GRPOTrainer(recipe, scorer=scorer).train(resume=args.resume)
    if history:
        last = history[-1]
        print(
            f"referee-train: {len(history)} steps; last reward {last['reward/mean']:.3f}, "
            f"accuracy {last.get('accuracy', float('nan')):.3f}; output in {recipe.output.dir}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
