"""Time for the CLIP recipe to reach 95% zero-shot accuracy, and its FLOP/s efficiency.

Measures, in one run on this machine:

1. matmul throughput: FLOP/s of float32 torch.matmul on 512x512 matrices,
   the ceiling for a small transformer on this CPU;
2. time to accuracy: training seconds (evaluations excluded) until the quick
   evaluation (256 validation scenes, checked every 25 steps) first reaches
   95% zero-shot accuracy; the goal is 30 s or less on 2 cores;
3. achieved FLOP/s: FLOPs of one training step (forward and backward,
   counted by torch.utils.flop_counter) times the steps, over those seconds,
   as a fraction of the matmul throughput.

Writes benchmarks/results/clip.json. Usage:

    python benchmarks/clip_time_to_accuracy.py [--threads 2] [--max-seconds 300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from vlmbook.recipes.clip import ClipRecipe
from vlmbook.allocator import keep_freed_memory
from vlmbook.training import train

TARGET_ACCURACY = 0.95
GOAL_SECONDS = 30.0
RESULTS = Path(__file__).resolve().parent / "results" / "clip.json"


def matmul_flops_per_second(size: int = 512, seconds: float = 3.0) -> float:
    """Return the float32 matmul throughput of this process, in FLOP/s."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(5):
        a @ b  # warm up the kernels and caches
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2 * size**3 * count / (time.perf_counter() - start)


def flops_per_step(recipe: ClipRecipe) -> int:
    """Count the FLOPs of one forward and backward pass on a training batch."""
    model, _ = recipe.build()
    batch = recipe.make_batch(list(range(recipe.settings.batch_size)))
    with FlopCounterMode(display=False) as counter:
        recipe.compute_loss(model, batch).backward()
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default: 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (default: 0)")
    parser.add_argument("--max-seconds", type=float, default=300, help="give up after this many seconds (default: 300)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as `vlmbook train` does

    peak = matmul_flops_per_second()
    recipe = ClipRecipe(seed=args.seed)
    step_flops = flops_per_step(recipe)

    # Train until the quick evaluation reaches the target accuracy.
    recipe.settings.eval_every = 25
    recipe.settings.target = ("zero_shot_accuracy", TARGET_ACCURACY)
    result = train(recipe, seed=args.seed, max_seconds=args.max_seconds)
    reached = [record for record in result.history if record["zero_shot_accuracy"] >= TARGET_ACCURACY]
    first = reached[0] if reached else result.history[-1]
    seconds = first["seconds"] - first["eval_seconds"]
    achieved = step_flops * first["step"] / seconds

    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "target_zero_shot_accuracy": TARGET_ACCURACY,
        "reached": bool(reached),
        "seconds_to_target": round(seconds, 2) if reached else None,
        "goal_seconds": GOAL_SECONDS,
        "steps_to_target": first["step"] if reached else None,
        "zero_shot_accuracy": first["zero_shot_accuracy"],
        "flops_per_step": step_flops,
        "achieved_flops_per_second": achieved,
        "matmul_flops_per_second": peak,
        "fraction_of_matmul_throughput": achieved / peak,
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
