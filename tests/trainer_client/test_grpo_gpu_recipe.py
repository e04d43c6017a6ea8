"""The GPU recipe runs one step on CPU through `referee-train`, against a real service.

Only the model (a tiny random one instead of a 0.5B checkpoint), the data file, the sizes and
the service URL are overridden; the rest (vLLM backend, gradient checkpointing, mixed-precision
auto, dapo, clip-higher, chunked scoring) is the recipe's own. vLLM is absent here, so the
trainer must say it falls back to transformers generate.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from referee.trainer_client.grpo import cli
from referee.trainer_client.grpo.metrics import read_metrics
from tests.trainer_client.conftest import Service

# The recipe runs torch in the trainer's CLI, not at this module's import.
pytestmark = pytest.mark.torch
REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "examples" / "grpo_gpu" / "recipe.yaml"


@pytest.fixture(scope="module")
def one_step(
    service: Service,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[int, Path, str]:
    folder = tmp_path_factory.mktemp("gpu-recipe")
    data = folder / "math.jsonl"
    data.write_text(
        "".join(
            json.dumps({"problem": f"What is {a} + {a}?", "answer": str(2 * a)}) + "\n"
            for a in range(8)
        )
    )
    handler = _Capture()
    logging.getLogger("referee.trainer_client.grpo").addHandler(handler)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("REFEREE_API_KEY", service.api_key)
            code = cli.main(
                [
                    "--config",
                    str(RECIPE),
                    "--set",
                    "model.name_or_path=null",
                    "--set",
                    "model.tiny={hidden_size: 16, num_layers: 1, num_heads: 2, "
                    "num_kv_heads: 1, intermediate_size: 32}",
                    "--set",
                    "model.device=cpu",
                    "--set",
                    f"data.path={data}",
                    "--set",
                    f"rewards.url={service.url}",
                    "--set",
                    "generation.max_completion_length=12",
                    "--set",
                    "grpo.prompts_per_step=4",
                    "--set",
                    "grpo.num_generations=4",
                    "--set",
                    "grpo.max_steps=1",
                    "--set",
                    f"output.dir={folder / 'run'}",
                    "--set",
                    "output.progress=false",
                ]
            )
    finally:
        logging.getLogger("referee.trainer_client.grpo").removeHandler(handler)
    return code, folder / "run", "\n".join(handler.messages)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_the_cli_exits_cleanly(one_step: tuple[int, Path, str]) -> None:
    assert one_step[0] == 0


def test_one_step_is_scored_by_the_service(one_step: tuple[int, Path, str]) -> None:
    record = read_metrics(one_step[1])[-1]
    assert record["step"] == 1
    # The tiny model's gibberish is scored, not lost: every reward came back (0 or more).
    assert record["reward/null_frac"] == 0.0 and record["reward/error_frac"] == 0.0


def test_without_vllm_generation_falls_back_with_a_log_line(
    one_step: tuple[int, Path, str],
) -> None:
    assert "falling back to transformers generate" in one_step[2]


def test_a_checkpoint_is_written(one_step: tuple[int, Path, str]) -> None:
    assert (one_step[1] / "checkpoint-000001" / "model" / "config.json").is_file()


def test_unreachable_service_fails_fast_with_exit_code_1(tmp_path: Path) -> None:
    code = cli.main(
        [
            "--config",
            str(RECIPE),
            "--set",
            "rewards.url=http://127.0.0.1:9",
            "--set",
            "rewards.max_retries=0",
        ]
    )
    assert code == 1


def test_bad_recipe_exits_with_code_2(tmp_path: Path) -> None:
    assert cli.main(["--config", str(RECIPE), "--set", "grpo.loss_type=ppo"]) == 2
