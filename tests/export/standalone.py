"""Outputs of exported directories computed where supernas cannot be imported (:mod:`.load_exports`)."""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import torch

LOADER = Path(__file__).with_name("load_exports.py")


def load_standalone(tmp_path: Path, jobs: list[tuple[str, str, object]]) -> list[torch.Tensor]:
    """Each ``(directory, loader, inputs)`` job's output, all computed in one fresh ``python -S`` process
    that sees this interpreter's site-packages (a virtual environment's and the system's it may include)
    but not their .pth files, so not the editable supernas."""
    jobs_file, out_file = tmp_path / "jobs.pt", tmp_path / "out.pt"
    torch.save({"jobs": jobs}, jobs_file)
    site_dirs = os.pathsep.join(site.getsitepackages())
    run = subprocess.run(
        [
            sys.executable,
            "-S",
            str(LOADER),
            site_dirs,
            str(torch.get_num_threads()),
            str(jobs_file),
            str(out_file),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return torch.load(out_file)
