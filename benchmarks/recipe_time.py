"""Projected wall time of each training recipe on this machine, against the 3-minute goal.

Full runs of all five recipes take tens of minutes on 2 cores, so this
script times a short run of each and projects the full one, in one run:

1. it builds the recipe as `vlmbook train NAME --init-from ...` does (the
   warm starts read the embedded checkpoints);
2. it runs the training loop of `vlmbook train` for `--steps` steps (default
   200) with the recipe's own batch and takes the seconds per step. Short
   samples swing with the machine's load: on a 2-core machine, 60-step
   samples of one recipe differed by up to about 10% from one run to the next;
3. it times the quick evaluation at the end, which the full run repeats
   every `eval_every` steps;
4. projected seconds = setup (building the model, the warm start) + seconds
   per step x max_steps + one quick evaluation x the number of evaluations.
   The evaluation on the test split at the end of `vlmbook train` and the
   saving of the files are left out.

The goal is 3 minutes per recipe on 2 cores, so the default is 2 torch
threads. The recorded commands of the shipped checkpoints used 1.
NOTE: a projection, not a full run: it assumes that a step costs the same
throughout, which is close to true here because every batch has the same
size and nearly the same sequence lengths.

Writes benchmarks/results/recipe_time.json. Usage:

    python benchmarks/recipe_time.py [--threads 2] [--steps 200] [--names clip llava]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from vlmbook.checkpoints import EMBEDDED_DIR, NAMES
from vlmbook.recipes import get_recipe
from vlmbook.recipes.warm_start import WARM_START_SOURCE
from vlmbook.allocator import keep_freed_memory
from vlmbook.training import train

GOAL_SECONDS = 180.0
RESULTS = Path(__file__).resolve().parent / "results" / "recipe_time.json"


def time_recipe(name: str, steps: int) -> dict:
    """Return seconds per training step, seconds per quick evaluation and the projected full run."""
    source = WARM_START_SOURCE.get(name)
    recipe = get_recipe(name, seed=0, init_from=str(EMBEDDED_DIR / source) if source else None)
    full = recipe.settings
    # The training loop of `vlmbook train`, cut to `steps` steps with one quick evaluation at the end.
    recipe.settings = dataclasses.replace(full, max_steps=steps, eval_every=steps, target=None)
    start = time.perf_counter()
    result = train(recipe, seed=0, log=lambda line: None)
    setup_seconds = time.perf_counter() - start - result.train_seconds  # building, warm start, Accelerate
    step_seconds = (result.train_seconds - result.eval_seconds) / result.steps
    eval_seconds = result.eval_seconds

    evaluations = math.ceil(full.max_steps / full.eval_every)
    projected = setup_seconds + step_seconds * full.max_steps + eval_seconds * evaluations
    return {
        "max_steps": full.max_steps,
        "batch_size": full.batch_size,
        "setup_seconds": round(setup_seconds, 2),
        "seconds_per_step": round(step_seconds, 4),
        "seconds_per_quick_eval": round(eval_seconds, 3),
        "evaluations": evaluations,
        "projected_seconds": round(projected, 1),
        "within_goal": projected <= GOAL_SECONDS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default: 2)")
    parser.add_argument("--steps", type=int, default=200, help="timed training steps per recipe (default: 200)")
    parser.add_argument("--names", nargs="+", default=list(NAMES), choices=NAMES, help="recipes to time (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as `vlmbook train` does

    load_at_start = os.getloadavg()[0]
    recipes = {}
    for name in args.names:
        recipes[name] = time_recipe(name, args.steps)
        print(name, json.dumps(recipes[name]), flush=True)
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "goal_seconds": GOAL_SECONDS,
        "timed_steps": args.steps,
        "recipes": recipes,
        "threads": args.threads,
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "load_average_start": round(load_at_start, 2),
        },
        "torch": torch.__version__,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
