"""Scaling out: the CLIP recipe on two CPU processes with `accelerate launch`.

Invariant: with the same global batch, two processes (each with half of
every batch, gradients averaged by Accelerate) train as well as one, up to
a tolerance. They differ a little on purpose: each process computes the
contrastive loss over its own half batch, so it has half the negatives.
"""

import json
import os
import subprocess
import sys

import pytest

STEPS = "60"
BATCH_ARGS = ["train", "clip", "--seed", "0", "--max-steps", STEPS, "--eval-scenes", "100"]


def train(out, launcher):
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", ACCELERATE_USE_CPU="true")
    command = [*launcher, *BATCH_ARGS, "--out", str(out)]
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads((out / "metrics.json").read_text()), json.loads((out / "history.json").read_text())


@pytest.mark.slow
def test_two_processes_train_like_one(tmp_path):
    one_record, one_history = train(tmp_path / "one", [sys.executable, "-m", "vlmbook.cli"])
    # NOTE: `accelerate launch --cpu --num_processes 2` starts one process unless MPI is set up
    # (accelerate 1.16). `--multi_gpu` starts two through torchrun, and on a machine without CUDA
    # the recipe's Accelerator then uses the CPU with the gloo backend.
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
              "--num_cpu_threads_per_process", "1", "-m", "vlmbook.cli"]
    two_record, two_history = train(tmp_path / "two", launch)

    assert one_record["processes"] == 1
    assert two_record["processes"] == 2
    assert two_record["steps"] == one_record["steps"] == int(STEPS)

    one_loss, two_loss = one_history[-1]["loss"], two_history[-1]["loss"]
    assert abs(two_loss - one_loss) <= 0.25 * one_loss, f"loss: 1 process {one_loss:.3f}, 2 processes {two_loss:.3f}"
    one_accuracy = one_record["metrics"]["zero_shot_accuracy"]
    two_accuracy = two_record["metrics"]["zero_shot_accuracy"]
    assert abs(two_accuracy - one_accuracy) <= 0.15, f"zero-shot: 1 process {one_accuracy}, 2 processes {two_accuracy}"
