"""Fixtures of the Python package's tests: the CLI binary they compare with, and CLI runs of the demo and shi2019
made once per session in a temporary folder.

The binary is $SIMGAP_BIN, else $CARGO_TARGET_DIR/release/simgap, else target/release/simgap of the checkout
(built by `cargo build --release`). shi2019 reads ../shared/data-samples beside the checkout; its tests are skipped
only where that folder is absent (CI has it)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data-samples"
# One night's date for every run, so the history tables of the CLI and the package are dated alike.
os.environ.setdefault("SOURCE_DATE_EPOCH", "1780000000")


def simgap_binary() -> Path:
    if "SIMGAP_BIN" in os.environ:
        return Path(os.environ["SIMGAP_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "simgap"


def cli(*args: str) -> subprocess.CompletedProcess:
    """Runs the simgap binary; fails the test with its stderr unless it exits 0 or 3."""
    binary = simgap_binary()
    if not binary.exists():
        pytest.fail(f"no simgap binary at {binary}: run `cargo build --release` or set SIMGAP_BIN")
    done = subprocess.run([str(binary), "-q", *args], capture_output=True, text=True)
    assert done.returncode in (0, 3), f"simgap {' '.join(args)}: exit {done.returncode}: {done.stderr}"
    return done


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """`simgap run pipelines/demo.toml` into a temporary folder."""
    out = tmp_path_factory.mktemp("demo") / "out"
    cli("run", str(ROOT / "pipelines" / "demo.toml"), "--out", str(out))
    return out


def shi2019_pipeline(folder: Path) -> Path:
    """pipelines/shi2019.toml with its inputs pointing at ../shared and its output in `folder`."""
    if not SHARED.is_dir():
        pytest.skip(f"needs {SHARED} beside the checkout")
    text = (ROOT / "pipelines" / "shi2019.toml").read_text()
    text = text.replace("../../shared/data-samples", str(SHARED))
    text = re.sub(r'(?m)^dir = ".*"$', 'dir = "out"', text)
    path = folder / "shi2019.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="session")
def shi2019_run(tmp_path_factory) -> tuple[Path, Path]:
    """`simgap run` of shi2019 (the pipeline file and its output folder)."""
    folder = tmp_path_factory.mktemp("shi2019")
    pipeline = shi2019_pipeline(folder)
    cli("run", str(pipeline))
    return pipeline, folder / "out"
