"""Create an empty package tree from pyproject.toml (each listed package as a directory with an
empty `__init__.py`, under its `package-dir` mapping) and an empty README.md, so the image
builder can install the dependencies of `.[server]` in a layer of their own, before the code
is copied. Used by deploy/referee.Dockerfile only."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def main(pyproject: str) -> None:
    config = tomllib.loads(Path(pyproject).read_text())["tool"]["setuptools"]
    mapping: dict[str, str] = config.get("package-dir", {})
    for package in config["packages"]:
        parts = package.split(".")
        for cut in range(len(parts), 0, -1):
            prefix = ".".join(parts[:cut])
            if prefix in mapping:
                path = Path(mapping[prefix], *parts[cut:])
                break
        else:
            path = Path(*parts)
        path.mkdir(parents=True, exist_ok=True)
        (path / "__init__.py").touch()
    Path(pyproject).with_name("README.md").touch()


if __name__ == "__main__":
    main(sys.argv[1])
