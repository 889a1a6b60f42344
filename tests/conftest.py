"""Settings shared by every test of the suite.

The tests never reach the network: Hugging Face libraries run offline,
matplotlib draws without a display, and tests/offline/sitecustomize.py
blocks every connection to a host other than this machine, in this process
and in every Python subprocess (it is first on PYTHONPATH).
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

OFFLINE_DIR = str(Path(__file__).resolve().parent / "offline")
os.environ["PYTHONPATH"] = os.pathsep.join(
    [OFFLINE_DIR, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)
sys.path.insert(0, OFFLINE_DIR)
import sitecustomize  # noqa: E402,F401  (installs the guard in this process)
