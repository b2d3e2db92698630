"""A virtualenv with the official ``vbench`` package for the backend tests, built once and cached.

``vbench`` 0.1.5 pins transformers 4.33 and numpy<2, so it lives in its own virtualenv. For the
weight-free dimension the tests run (temporal flickering) it needs only its own wheel, numpy<2
and easydict from PyPI; the heavy packages it imports at module level (torch, torchvision,
decord, opencv, PyAV) are taken from the project's virtualenv through a ``.pth`` line placed
AFTER the venv's own site-packages, so the venv's numpy 1.26 wins. Built in ~6 s (three small
wheels) under ``$SEMANTICGEN_VBENCH_VENV`` or ``~/.cache/semanticgen/vbench-0.1.5-<python>``.
"""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Optional, Tuple

PINS = ["vbench==0.1.5", "numpy==1.26.4", "easydict==1.13"]
CHECK = "import numpy, vbench.temporal_flickering, vbench.utils, decord, cv2, av; print(numpy.__version__)"


def venv_dir() -> Path:
    default = Path.home() / ".cache" / "semanticgen" / f"vbench-0.1.5-py{sys.version_info[0]}{sys.version_info[1]}"
    return Path(os.environ.get("SEMANTICGEN_VBENCH_VENV", default))


def _works(python: Path) -> Tuple[bool, str]:
    if not python.exists():
        return False, f"{python} missing"
    p = subprocess.run([str(python), "-c", CHECK], capture_output=True, text=True, timeout=300)
    return p.returncode == 0 and p.stdout.strip().startswith("1."), (p.stderr or p.stdout)[-500:]


def build() -> Tuple[Optional[str], str]:
    """``(python of the venv, "")`` or ``(None, why it could not be built)``."""
    root = venv_dir()
    python = root / "bin" / "python"
    ok, why = _works(python)
    if ok:
        return str(python), ""
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", "--without-pip", str(root)], check=True,
                       capture_output=True, timeout=120)
        pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                              "--disable-pip-version-check", *PINS], capture_output=True, text=True, timeout=600)
    except (subprocess.SubprocessError, OSError) as e:
        return None, f"cannot create the vbench virtualenv: {e}"
    if pip.returncode != 0:
        return None, f"pip install {' '.join(PINS)} failed: {(pip.stderr or pip.stdout)[-400:]}"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "zz_semanticgen_main_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    ok, why = _works(python)
    return (str(python), "") if ok else (None, f"vbench does not import in the built virtualenv: {why}")
