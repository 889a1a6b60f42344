"""The training loop that every recipe shares, built on Hugging Face Accelerate.

A recipe (see `vlmbook.recipes`) builds its model, turns scene indices
into a batch, computes the loss and evaluates. This module runs the steps. The same code runs in one process or under `accelerate launch` on
several: each process takes its own slice of every global batch, and
Accelerate averages the gradients.

One line per evaluation, in a fixed format::

    step   400/1500 |   52.1s | loss 0.4123 | lr 1.9e-03 | zero_shot_accuracy 0.953 | a red circle -> a red circle
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from accelerate import Accelerator
from accelerate.utils import parse_flag_from_env, set_seed
from tqdm.auto import tqdm
from transformers import PreTrainedModel, ProcessorMixin, get_cosine_schedule_with_warmup


@dataclass
class RecipeSettings:
    """Optimization settings of one recipe; the defaults suit the tiny models."""

    max_steps: int  # the run stops here unless the time budget runs out first
    batch_size: int  # global batch: summed over all processes
    learning_rate: float  # peak AdamW learning rate, reached after warmup
    eval_every: int  # steps between two evaluation lines
    warmup_steps: int = 50  # linear warmup, then cosine decay to 0 at max_steps
    weight_decay: float = 0.05
    max_grad_norm: float = 1.0
    target: tuple[str, float] | None = None  # optional (metric, value): stop once the quick eval reaches it
    # Parameters whose names start with one of these prefixes stay fixed (requires_grad=False).
    frozen_prefixes: tuple[str, ...] = ()
    # Learning-rate factors by parameter-name prefix, e.g. {"model.vision_tower.": 0.1} trains a
    # pretrained tower 10 times slower than the new layers; parameters without a match use 1.0.
    lr_scales: dict[str, float] = field(default_factory=dict)


class Recipe(Protocol):
    """Interface of a recipe: the methods and settings that the training loop calls."""

    name: str
    settings: RecipeSettings

    def build(self) -> tuple[PreTrainedModel, ProcessorMixin]: ...

    def make_batch(self, indices: list[int]) -> dict[str, torch.Tensor]: ...

    def compute_loss(self, model: PreTrainedModel, batch: dict[str, torch.Tensor]) -> torch.Tensor: ...

    def quick_eval(self, model: PreTrainedModel, processor: ProcessorMixin) -> tuple[dict[str, float], str]: ...


@dataclass
class TrainResult:
    """Result of a finished run: the trained model, its history and timing."""

    model: PreTrainedModel
    processor: ProcessorMixin
    history: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0
    train_seconds: float = 0.0  # wall-clock seconds of the loop, evaluations included
    train_cpu_seconds: float = 0.0  # CPU seconds of this process, all threads; robust to a shared machine
    eval_seconds: float = 0.0  # wall-clock seconds spent in quick evaluations, part of train_seconds
    stopped_by: str = "max_steps"  # "max_steps", "max_seconds" or "target"


def use_cpu() -> bool:
    """Return True when training should run on the CPU: no CUDA device, or ACCELERATE_USE_CPU set.

    Accelerate sets up several CPU processes (gloo backend) only when `cpu=True` is passed, so
    `accelerate launch --multi_gpu --num_processes 2` on a CPU-only machine needs this flag.
    """
    return not torch.cuda.is_available() or parse_flag_from_env("ACCELERATE_USE_CPU")


def format_log_line(step: int, max_steps: int, seconds: float, loss: float, lr: float, metrics: dict, sample: str) -> str:
    """Format the fixed one-line log of an evaluation."""
    metric_text = " | ".join(f"{name} {value:.3f}" for name, value in metrics.items())
    return (
        f"step {step:>5}/{max_steps} | {seconds:>7.1f}s | loss {loss:.4f} | lr {lr:.1e} | {metric_text} | {sample}"
    )


def _all_processes_agree(accelerator: Accelerator, stop: bool) -> bool:
    """Return True if any process wants to stop, so that all stop at the same step."""
    if accelerator.num_processes == 1:
        return stop
    flag = torch.tensor([1.0 if stop else 0.0], device=accelerator.device)
    return bool(accelerator.reduce(flag, reduction="sum").item() > 0)


def parameter_groups(model: torch.nn.Module, settings: RecipeSettings) -> list[dict]:
    """Freeze `settings.frozen_prefixes` and group the other parameters by weight decay and learning rate.

    Biases, norms and embeddings get no weight decay. Each group's learning rate is the
    peak rate times the factor of the first matching prefix in `settings.lr_scales`.
    """
    groups: dict[tuple[bool, float], list[torch.nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if name.startswith(settings.frozen_prefixes):
            parameter.requires_grad_(False)
            continue
        decay = parameter.ndim >= 2 and "embedding" not in name
        scale = next((value for prefix, value in settings.lr_scales.items() if name.startswith(prefix)), 1.0)
        groups.setdefault((decay, scale), []).append(parameter)
    return [
        {
            "params": parameters,
            "weight_decay": settings.weight_decay if decay else 0.0,
            "lr": settings.learning_rate * scale,
        }
        for (decay, scale), parameters in groups.items()
    ]


def train(recipe: Recipe, seed: int = 0, max_seconds: float | None = None, log=print) -> TrainResult:
    """Train the model that a recipe builds; return it with its history.

    The run is reproducible on one machine for a given seed and process count,
    as long as it ends at `max_steps`. A run cut short by `max_seconds`
    depends on the machine's speed, and `TrainResult.stopped_by` records that.
    """
    settings = recipe.settings
    accelerator = Accelerator(cpu=use_cpu())

    # Seeds: the same initial weights in every process, then one data slice each.
    set_seed(seed)
    model, processor = recipe.build()
    if settings.batch_size % accelerator.num_processes != 0:
        raise ValueError(
            f"batch size {settings.batch_size} is not divisible by {accelerator.num_processes} processes; "
            "choose a process count that divides it"
        )
    local_batch_size = settings.batch_size // accelerator.num_processes

    # Optimizer: AdamW without weight decay on biases and norms, cosine schedule.
    # foreach: each update operation runs once over all parameters instead of once per parameter.
    optimizer = torch.optim.AdamW(
        parameter_groups(model, settings), lr=settings.learning_rate, betas=(0.9, 0.98), foreach=True
    )
    scheduler = get_cosine_schedule_with_warmup(optimizer, settings.warmup_steps, settings.max_steps)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)

    show_bar = accelerator.is_main_process and sys.stderr.isatty()
    progress = tqdm(total=settings.max_steps, disable=not show_bar, desc=recipe.name, leave=False)
    write = progress.write if show_bar else log
    result = TrainResult(model=model, processor=processor)
    start = time.perf_counter()
    start_cpu = time.process_time()
    running_loss, running_count = 0.0, 0

    for step in range(1, settings.max_steps + 1):
        # Batch: this process's slice of global batch number `step`.
        first = (step - 1) * settings.batch_size + accelerator.process_index * local_batch_size
        batch = recipe.make_batch(list(range(first, first + local_batch_size)))
        batch = {key: value.to(accelerator.device) for key, value in batch.items()}

        # Step: forward, backward (gradients averaged over processes), update.
        model.train()
        loss = recipe.compute_loss(model, batch)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        running_loss += loss.item()
        running_count += 1
        progress.update(1)

        # Evaluate: a quick held-out check and one qualitative sample, on the main process.
        elapsed = time.perf_counter() - start
        out_of_time = _all_processes_agree(accelerator, max_seconds is not None and elapsed >= max_seconds)
        reached_target = False
        if step % settings.eval_every == 0 or step == settings.max_steps or out_of_time:
            if accelerator.is_main_process:
                eval_start = time.perf_counter()
                metrics, sample = recipe.quick_eval(accelerator.unwrap_model(model), processor)
                result.eval_seconds += time.perf_counter() - eval_start
                # NOTE: this is the first parameter group's rate, which `lr_scales` may lower
                # (LLaVA's first group is its vision tower, at a tenth of the peak rate).
                lr = scheduler.get_last_lr()[0]
                mean_loss = running_loss / max(running_count, 1)
                record = {
                    "step": step, "seconds": round(elapsed, 2), "eval_seconds": round(result.eval_seconds, 2),
                    "loss": mean_loss, "lr": lr, **metrics,
                }
                result.history.append(record)
                write(format_log_line(step, settings.max_steps, elapsed, mean_loss, lr, metrics, sample))
                if settings.target is not None:
                    metric, value = settings.target
                    reached_target = metrics.get(metric, -math.inf) >= value
            running_loss, running_count = 0.0, 0
            accelerator.wait_for_everyone()
            reached_target = _all_processes_agree(accelerator, reached_target)
            if reached_target:
                result.stopped_by = "target"
                break
        if out_of_time:
            result.stopped_by = "max_seconds"
            break

    progress.close()
    result.steps = step
    result.train_seconds = round(time.perf_counter() - start, 2)
    result.train_cpu_seconds = round(time.process_time() - start_cpu, 2)
    result.model = accelerator.unwrap_model(model)
    return result


def save_run(result: TrainResult, out_dir: Path) -> None:
    """Save weights (safetensors), processor files and history.json into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    result.model.save_pretrained(out_dir)
    result.processor.save_pretrained(out_dir)
    (out_dir / "history.json").write_text(json.dumps(result.history, indent=1) + "\n")
