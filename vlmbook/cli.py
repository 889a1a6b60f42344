"""The `vlmbook` command line: train, evaluate and list the checkpoints.

    vlmbook train clip --out runs/clip --seed 0 --max-seconds 180
    vlmbook eval clip --json
    vlmbook checkpoints --json

`train` prints one line per evaluation and, as its last line, the final
test metrics as JSON; it writes the checkpoint, `history.json` and
`metrics.json` (with the exact command) into the output folder.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
from pathlib import Path

from vlmbook.checkpoints import NAMES, CheckpointError

# Files a previous run leaves in an output folder; --overwrite replaces exactly these.
RUN_FILE_PATTERNS = ("*.safetensors", "*.json", "*.jinja", "*.txt")


def _prepare_output_folder(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise CheckpointError(f"--out {out} is a file, not a folder; choose a folder path")
    existing = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if existing and not overwrite:
        raise CheckpointError(
            f"output folder {out} is not empty (it contains {', '.join(existing[:5])}"
            f"{', ...' if len(existing) > 5 else ''}); pass --overwrite to replace a previous run, "
            "or choose an empty folder"
        )
    if existing:
        for pattern in RUN_FILE_PATTERNS:
            for path in out.glob(pattern):
                if path.is_file() or path.is_symlink():
                    path.unlink()


def run_train(args: argparse.Namespace, argv: list[str]) -> dict:
    """Train a recipe, save its checkpoint, evaluate it on `test` and record metrics.json."""
    import torch
    import transformers
    from accelerate import PartialState

    from vlmbook.allocator import keep_freed_memory
    from vlmbook.recipes import get_recipe
    from vlmbook.training import save_run, train, use_cpu

    keep_freed_memory()  # every step reuses the last step's memory instead of faulting in new pages
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    state = PartialState(cpu=use_cpu())
    if state.is_main_process:
        _prepare_output_folder(out, args.overwrite)
    state.wait_for_everyone()

    recipe = get_recipe(args.name, seed=args.seed, init_from=args.init_from)
    if args.max_steps is not None:
        recipe.settings.max_steps = args.max_steps
        recipe.settings.warmup_steps = min(recipe.settings.warmup_steps, args.max_steps)
    result = train(recipe, seed=args.seed, max_seconds=args.max_seconds)
    if not state.is_main_process:
        return {}

    save_run(result, out)
    metrics = recipe.evaluate(result.model, result.processor, num_scenes=args.eval_scenes)
    record = {
        "name": args.name,
        "command": shlex.join(["vlmbook", *argv]),
        "seed": args.seed,
        "init_from": args.init_from,
        "processes": state.num_processes,
        "steps": result.steps,
        "max_steps": recipe.settings.max_steps,
        "stopped_by": result.stopped_by,
        "train_seconds": result.train_seconds,
        "train_cpu_seconds": result.train_cpu_seconds,
        "eval_scenes": args.eval_scenes,
        "metrics": metrics,
        "parameters": sum(p.numel() for p in result.model.parameters()),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
    }
    (out / "metrics.json").write_text(json.dumps(record, indent=1) + "\n")
    return metrics


def run_eval(args: argparse.Namespace) -> dict:
    from vlmbook.evaluation import evaluate_checkpoint

    return evaluate_checkpoint(args.name, args.checkpoint, num_scenes=args.num_scenes, seed=args.seed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vlmbook", description="Train, evaluate and list the vlmbook checkpoints.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a checkpoint on ShapesWorld, from scratch or from --init-from")
    train.add_argument("name", choices=NAMES, help="checkpoint to train")
    train.add_argument("--out", required=True, help="output folder for the checkpoint and its metrics")
    train.add_argument("--seed", type=int, default=0, help="seed of the weights and the data order (default: 0)")
    train.add_argument(
        "--max-seconds", type=float, default=None,
        help="stop training after this many seconds even before the recipe's last step (default: no limit)",
    )
    train.add_argument(
        "--max-steps", type=int, default=None, help="number of optimizer steps (default: the recipe's own)"
    )
    train.add_argument(
        "--init-from", default=None,
        help="checkpoint folder to warm-start from: blip-captioning for blip-vqa and blip-itm, clip for llava",
    )
    train.add_argument(
        "--threads", type=int, default=None,
        help="torch CPU threads per process (default: torch's choice); 1 is fastest on a busy machine",
    )
    train.add_argument("--overwrite", action="store_true", help="replace a previous run in a non-empty --out folder")
    train.add_argument(
        "--eval-scenes", type=int, default=500, help="test scenes for the final evaluation (default: 500)"
    )

    evaluate = commands.add_parser("eval", help="evaluate a checkpoint on the ShapesWorld test split")
    evaluate.add_argument("name", choices=NAMES, help="checkpoint name (selects the metrics)")
    evaluate.add_argument(
        "--checkpoint", default=None, help="checkpoint folder (default: the embedded checkpoint of NAME)"
    )
    evaluate.add_argument("--num-scenes", type=int, default=500, help="test scenes to evaluate on (default: 500)")
    evaluate.add_argument("--seed", type=int, default=0, help="ShapesWorld seed of the test scenes (default: 0)")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as one JSON object")

    listing = commands.add_parser("checkpoints", help="list the checkpoints and their recorded metrics")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            metrics = run_train(args, argv)
            if metrics:
                print(json.dumps(metrics, sort_keys=True))
        elif args.command == "eval":
            metrics = run_eval(args)
            if args.json:
                print(json.dumps(metrics, sort_keys=True))
            else:
                for key, value in metrics.items():
                    print(f"{key:<28} {value:.4f}")
        else:
            from vlmbook.checkpoints import list_checkpoints

            entries = list_checkpoints()
            if args.json:
                print(json.dumps(entries, indent=1))
            else:
                for entry in entries:
                    print(f"{entry['name']:<16} {entry['public_id']:<40} {entry['path']}")
    except CheckpointError as error:
        print(f"vlmbook: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
