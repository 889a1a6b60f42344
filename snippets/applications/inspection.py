"""Generator: visual question answering for inspection with the embedded BLIP, rejecting unsure answers.

An inspection station asks the same questions about every scene. Each answer
comes with a confidence, the probability of the answer's tokens, and answers
below a threshold go to a person. The threshold is chosen on `val` for a
target error rate and measured on `test`: coverage is the share of questions
answered, risk the share of wrong answers among them (Whitehead et al. 2022,
arXiv 2204.13631). The page embeds the `answer`, `reject`, `kinds` and
`figure` sections.
"""

# --8<-- [start:answer]
import torch
from transformers import BlipForQuestionAnswering, BlipProcessor

import vlmbook
from vlmbook.shapesworld import ShapesWorld

folder = vlmbook.checkpoint("blip-vqa")  # VLMBOOK_CHECKPOINTS=hub: "Salesforce/blip-vqa-base"
processor = BlipProcessor.from_pretrained(folder)
model = BlipForQuestionAnswering.from_pretrained(folder).eval()


@torch.no_grad()
def answer(images: list, questions: list[str]) -> tuple[list[str], torch.Tensor]:
    """Answer each question about its image greedily; return the answers and their confidences (B,).

    The confidence is the probability of the whole answer: the product of its
    token probabilities, the end token included.
    """
    inputs = processor(images=images, text=questions, padding=True, return_tensors="pt")
    output = model.generate(**inputs, max_new_tokens=4, output_scores=True, return_dict_in_generate=True)
    log_probs = model.compute_transition_scores(output.sequences, output.scores, normalize_logits=True)  # (B, T - 1)
    is_token = output.sequences[:, 1:] != processor.tokenizer.pad_token_id  # padding after a short answer
    confidence = log_probs.masked_fill(~is_token, 0.0).sum(dim=1).exp()  # (B,)
    answers = [text.strip() for text in processor.batch_decode(output.sequences, skip_special_tokens=True)]
    return answers, confidence


def inspect(split: str, num_scenes: int) -> dict:
    """Ask every question of the first scenes of a split; return questions, answers, confidences and correctness."""
    scenes = ShapesWorld(split, min_objects=1, max_objects=2, seed=0).scenes(range(num_scenes))
    items = [(scene.image, qa) for scene in scenes for qa in scene.questions]
    answers, confidence = answer([image for image, _ in items], [qa.question for _, qa in items])
    correct = torch.tensor([predicted == qa.answer for predicted, (_, qa) in zip(answers, items)])
    return {"qas": [qa for _, qa in items], "answers": answers, "confidence": confidence, "correct": correct}


val = inspect("val", 100)  # 600 questions: 6 per scene
test = inspect("test", 200)  # 1200 questions
for qa, predicted, score in list(zip(test["qas"], test["answers"], test["confidence"].tolist()))[:6]:
    print(f"{qa.question:<45} truth {qa.answer:<6} model {predicted:<6} confidence {score:.2f}")
# --8<-- [end:answer]

# --8<-- [start:reject]
TARGET_RISK = 0.05  # at most 5% of the answers given may be wrong


def coverage_and_risk(run: dict, threshold: float) -> tuple[float, float]:
    """Share of questions answered at this threshold, and the share of wrong answers among them."""
    answered = run["confidence"] >= threshold
    coverage = answered.float().mean().item()
    risk = (~run["correct"][answered]).float().mean().item() if answered.any() else float("nan")
    return coverage, risk


# On val, the lowest threshold whose risk meets the target answers the most questions.
# When none meets it, the station answers nothing and a person checks every question.
candidates = sorted(set(val["confidence"].tolist()))
threshold = next((t for t in candidates if coverage_and_risk(val, t)[1] <= TARGET_RISK), float("inf"))
coverage, risk = coverage_and_risk(test, threshold)
accuracy = test["correct"].float().mean().item()
print(f"answer everything: accuracy {accuracy:.1%}, risk {1 - accuracy:.1%}")
print(f"threshold {threshold:.3f} (val) -> test coverage {coverage:.1%}, risk {risk:.1%}")
# --8<-- [end:reject]

# --8<-- [start:kinds]
KINDS = ("color", "shape", "count", "position", "exists")
by_kind = {}
for kind in KINDS:
    rows = [i for i, qa in enumerate(test["qas"]) if qa.kind == kind]
    subset = {"confidence": test["confidence"][rows], "correct": test["correct"][rows]}
    by_kind[kind] = (len(rows), subset["correct"].float().mean().item(), *coverage_and_risk(subset, threshold))
for kind, (count, kind_accuracy, kind_coverage, kind_risk) in by_kind.items():
    print(f"{kind:<9} {count:>4} questions  accuracy {kind_accuracy:.1%}  coverage {kind_coverage:.1%}  risk {kind_risk:.1%}")
# --8<-- [end:kinds]

# --8<-- [start:figure]
import math

import matplotlib.pyplot as plt

from vlmbook.book import figure, markdown

LABELS = {
    "ko": {"coverage": "커버리지 (답한 질문의 비율)", "risk": "위험 (답 가운데 틀린 비율)", "target": "목표 위험",
           "chosen": "val에서 고른 임곗값"},
    "en": {"coverage": "coverage (share of questions answered)", "risk": "risk (share of answers that are wrong)",
           "target": "target risk", "chosen": "threshold chosen on val"},
}


def risk_coverage_curve(run: dict) -> tuple[list[float], list[float]]:
    """Coverage and risk when the k most confident answers are given, for every k."""
    order = run["confidence"].argsort(descending=True)
    wrong = (~run["correct"][order]).float().cumsum(dim=0)  # wrong answers among the k most confident
    answered = torch.arange(1, len(order) + 1)
    return (answered / len(order)).tolist(), (wrong / answered).tolist()


@figure("applications-inspection-risk")
def draw_risk_coverage(lang: str):
    labels = LABELS[lang]
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.plot(*risk_coverage_curve(test), color="#3949ab", label="test")
    ax.plot(*risk_coverage_curve(val), color="#9fa8da", linestyle="--", label="val")
    ax.axhline(TARGET_RISK, color="gray", linestyle=":", label=labels["target"])
    if coverage > 0:
        ax.scatter([coverage], [risk], color="#c62828", zorder=3, label=labels["chosen"])
    ax.set_xlabel(labels["coverage"])
    ax.set_ylabel(labels["risk"])
    ax.set_xlim(0, 1.0)
    ax.set_ylim(0, max(0.3, 1.1 * (1 - accuracy)))
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig
# --8<-- [end:figure]

KIND_NAMES = {
    "ko": {"color": "색 (color)", "shape": "모양 (shape)", "count": "개수 (count)", "position": "위치 (position)",
           "exists": "존재 여부 (exists)"},
    "en": {kind: kind for kind in KINDS},
}


def percent(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.1%}"


@markdown("applications-inspection-table")
def kind_table(lang: str) -> str:
    if lang == "ko":
        header = "| 질문 종류 | 질문 수 | 모두 답할 때 정확도 | 커버리지 | 위험 |"
        total = "전체"
    else:
        header = "| question kind | questions | accuracy, answering all | coverage | risk |"
        total = "all"
    lines = [header, "| --- | --- | --- | --- | --- |"]
    for kind, (count, kind_accuracy, kind_coverage, kind_risk) in by_kind.items():
        lines.append(f"| {KIND_NAMES[lang][kind]} | {count} | {kind_accuracy:.1%} | {kind_coverage:.1%} | {percent(kind_risk)} |")
    lines.append(f"| **{total}** | {len(test['qas'])} | {accuracy:.1%} | {coverage:.1%} | {percent(risk)} |")
    return "\n".join(lines)


@markdown("applications-inspection-threshold")
def threshold_text(lang: str) -> str:
    return f"{threshold:.3f}"


@markdown("applications-inspection-coverage")
def coverage_text(lang: str) -> str:
    return f"{coverage:.1%}"


@markdown("applications-inspection-risk-value")
def risk_text(lang: str) -> str:
    return percent(risk)


@markdown("applications-inspection-accuracy")
def accuracy_text(lang: str) -> str:
    return f"{accuracy:.1%}"
