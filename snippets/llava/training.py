"""Generator: the training run that produced the embedded LLaVA, from the files saved beside it.

The page embeds the `history` section; the figure and the numbers in the text
come from the same records.
"""

# --8<-- [start:history]
import json

from vlmbook.checkpoints import EMBEDDED_DIR, recorded_metrics

record = recorded_metrics("llava")  # metrics.json: the command, the time, the scores
history = json.loads((EMBEDDED_DIR / "llava" / "history.json").read_text())
print(record["command"])
print(f"{record['steps']} steps, {len(history)} evaluations during training")
# --8<-- [end:history]

import matplotlib.pyplot as plt

from vlmbook.book import figure, markdown

LABELS = {
    "ko": {"step": "학습 스텝", "loss": "학습 손실", "accuracy": "검증 정확도",
           "title": "내장 LLaVA의 학습 곡선"},
    "en": {"step": "training step", "loss": "training loss", "accuracy": "validation accuracy",
           "title": "Training curve of the embedded LLaVA"},
}
# The recipe logs its quick validation score under this name (vlmbook/recipes/llava.py).
SCORE = "answer_accuracy"


@figure("llava-training-curve")
def draw_training_curve(lang: str):
    labels = LABELS[lang]
    steps = [entry["step"] for entry in history]
    fig, loss_ax = plt.subplots(figsize=(6.4, 3.0))
    loss_ax.plot(steps, [entry["loss"] for entry in history], color="#3949ab", marker="o",
                 markersize=3)
    loss_ax.set_xlabel(labels["step"])
    loss_ax.set_ylabel(labels["loss"], color="#3949ab")
    score_ax = loss_ax.twinx()
    score_ax.plot(steps, [entry[SCORE] for entry in history], color="#ef6c00", marker="s",
                  markersize=3)
    score_ax.set_ylabel(labels["accuracy"], color="#ef6c00")
    score_ax.set_ylim(0, 1)
    loss_ax.set_title(labels["title"])
    return fig


@markdown("llava-train-steps")
def train_steps(lang: str) -> str:
    return str(record["steps"])


@markdown("llava-train-minutes")
def train_minutes(lang: str) -> str:
    return f"{record['train_seconds'] / 60:.1f}"


@markdown("llava-train-cpu-minutes")
def train_cpu_minutes(lang: str) -> str:
    return f"{record['train_cpu_seconds'] / 60:.1f}"


@markdown("llava-train-machine")
def train_machine(lang: str) -> str:
    return record.get("machine", "CPU")


@markdown("llava-train-command")
def train_command(lang: str) -> str:
    return f"```console\n{record['command']}\n```"
