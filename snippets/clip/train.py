"""Generator: train the tiny CLIP from scratch on ShapesWorld for about a minute, and plot its curve.

The build runs this file once and caches its outputs, so the training below
runs again only when this file or the vlmbook package changes. The page
embeds the `train` and `figure` sections.
"""

# --8<-- [start:train]
from vlmbook.recipes.clip import ClipRecipe
from vlmbook.training import train

recipe = ClipRecipe(seed=0)
recipe.settings.max_steps = 150  # a short run; the embedded checkpoint ran the full schedule
recipe.settings.warmup_steps = 15
recipe.settings.eval_every = 10  # one log line and one history record every 10 steps
result = train(recipe, seed=0, max_seconds=90)  # a slow machine stops early, after 90 seconds
# --8<-- [end:train]

# --8<-- [start:figure]
import matplotlib.pyplot as plt

from vlmbook.book import figure, markdown
from vlmbook.checkpoints import recorded_metrics

LABELS = {
    "ko": {"step": "학습 스텝", "loss": "학습 손실", "accuracy": "제로샷 정확도 (검증)", "chance": "무작위 추측"},
    "en": {"step": "training step", "loss": "training loss", "accuracy": "zero-shot accuracy (val)", "chance": "chance"},
}
NUM_CLASSES = 18  # 6 colors x 3 shapes: the zero-shot classes


@figure("clip-training-curve")
def draw_training_curve(lang: str):
    labels = LABELS[lang]
    steps = [record["step"] for record in result.history]
    fig, (loss_ax, accuracy_ax) = plt.subplots(1, 2, figsize=(8.4, 3.0))
    loss_ax.plot(steps, [record["loss"] for record in result.history], marker="o", color="#3949ab")
    loss_ax.set_xlabel(labels["step"])
    loss_ax.set_ylabel(labels["loss"])
    accuracy_ax.plot(steps, [record["zero_shot_accuracy"] for record in result.history], marker="o", color="#00897b")
    accuracy_ax.axhline(1 / NUM_CLASSES, color="gray", linestyle="--", label=labels["chance"])
    accuracy_ax.set_xlabel(labels["step"])
    accuracy_ax.set_ylabel(labels["accuracy"])
    accuracy_ax.set_ylim(0, 1)
    accuracy_ax.legend(loc="upper left")
    fig.tight_layout()
    return fig
# --8<-- [end:figure]


@markdown("clip-short-run-steps")
def short_run_steps(lang: str) -> str:
    return f"{result.steps}"


@markdown("clip-short-run-seconds")
def short_run_seconds(lang: str) -> str:
    return f"{result.train_seconds:.0f}"


@markdown("clip-short-run-accuracy")
def short_run_accuracy(lang: str) -> str:
    return f"{result.history[-1]['zero_shot_accuracy']:.1%}"


@markdown("clip-embedded-record")
def embedded_record(lang: str) -> str:
    """Write the run recorded beside the embedded checkpoint as a two-column table."""
    record = recorded_metrics("clip")
    metrics = record["metrics"]
    rows = {
        "ko": [
            ("명령", f"`{record['command']}`"),
            ("학습 스텝", f"{record['steps']}"),
            ("학습 시간", f"{record['train_seconds']:.0f}초"),
            ("제로샷 정확도 (test)", f"{metrics['zero_shot_accuracy']:.1%}"),
            ("제로샷 정확도 (test_heldout)", f"{metrics['heldout_zero_shot_accuracy']:.1%}"),
            ("텍스트→이미지 recall@1 (test)", f"{metrics['t2i_r1']:.1%}"),
        ],
        "en": [
            ("command", f"`{record['command']}`"),
            ("training steps", f"{record['steps']}"),
            ("training time", f"{record['train_seconds']:.0f} s"),
            ("zero-shot accuracy (test)", f"{metrics['zero_shot_accuracy']:.1%}"),
            ("zero-shot accuracy (test_heldout)", f"{metrics['heldout_zero_shot_accuracy']:.1%}"),
            ("text-to-image recall@1 (test)", f"{metrics['t2i_r1']:.1%}"),
        ],
    }[lang]
    header = "| 항목 | 값 |" if lang == "ko" else "| item | value |"
    return "\n".join([header, "| --- | --- |", *(f"| {name} | {value} |" for name, value in rows)])
