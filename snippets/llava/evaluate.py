"""Generator: LLaVA and BLIP VQA on the same ShapesWorld questions, and POPE-style hallucination.

The page embeds the `setup`, `answer` and `score` sections; the figure and the
tables on the page come from the numbers computed here.
"""

# --8<-- [start:setup]
from transformers import AutoProcessor, BlipForQuestionAnswering
from transformers import LlavaForConditionalGeneration

import vlmbook
from vlmbook.evaluation import accuracy_by_kind
from vlmbook.recipes import get_recipe
from vlmbook.recipes.llava import hallucination_rate
from vlmbook.shapesworld import ShapesWorld

NUM_SCENES = 100
# At most two objects per scene, as in both models' training data.
world = ShapesWorld("test", max_objects=2, seed=0)
scenes = [world[i] for i in range(NUM_SCENES)]
qas = [qa for scene in scenes for qa in scene.questions]
images = [scene.image for scene in scenes for _ in scene.questions]
questions = [qa.question for qa in qas]
answers = [qa.answer for qa in qas]
kinds = [qa.kind for qa in qas]

llava_path, blip_path = vlmbook.checkpoint("llava"), vlmbook.checkpoint("blip-vqa")
llava = LlavaForConditionalGeneration.from_pretrained(llava_path).eval()
llava_processor = AutoProcessor.from_pretrained(llava_path)
llava_processor.tokenizer.padding_side = "left"  # prompts end where answers start
blip = BlipForQuestionAnswering.from_pretrained(blip_path).eval()
blip_processor = AutoProcessor.from_pretrained(blip_path)
# --8<-- [end:setup]

# --8<-- [start:answer]
BATCH_SIZE = 100


def answer_all(name: str, model, processor) -> list[str]:
    """Answer every question with the recipe's batched greedy decoding."""
    recipe = get_recipe(name)
    predictions = []
    for start in range(0, len(questions), BATCH_SIZE):
        batch = slice(start, start + BATCH_SIZE)
        predictions += recipe.answer(
            model, processor, images[batch], questions[batch]
        )
    return predictions


predictions = {
    "LLaVA": answer_all("llava", llava, llava_processor),
    "BLIP VQA": answer_all("blip-vqa", blip, blip_processor),
}
# --8<-- [end:answer]

# --8<-- [start:score]
def pope_scores(predicted: list[str]) -> dict[str, float]:
    """POPE's metrics on the "is there ...?" questions, with "yes" as positive."""
    pairs = [
        (prediction == "yes", answer == "yes")
        for prediction, answer, kind in zip(predicted, answers, kinds)
        if kind == "exists"
    ]  # (predicted yes, object present)
    true_positives = sum(predicted_yes and present for predicted_yes, present in pairs)
    precision = true_positives / max(sum(predicted_yes for predicted_yes, _ in pairs), 1)
    recall = true_positives / max(sum(present for _, present in pairs), 1)
    return {
        "accuracy": sum(predicted_yes == present for predicted_yes, present in pairs)
        / len(pairs),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / max(precision + recall, 1e-12),
        "yes_ratio": sum(predicted_yes for predicted_yes, _ in pairs) / len(pairs),
    }


accuracy, hallucination, pope = {}, {}, {}
for name, predicted in predictions.items():
    accuracy[name] = accuracy_by_kind(predicted, answers, kinds)
    hallucination[name] = hallucination_rate(predicted, answers, kinds)
    pope[name] = pope_scores(predicted)
    print(f"{name:<9} accuracy {accuracy[name]['all']:.1%}, "
          f"hallucination rate {hallucination[name]:.1%}")
# --8<-- [end:score]

# --8<-- [start:figure]
import matplotlib.pyplot as plt
import numpy as np

from vlmbook.book import figure

KINDS = ("color", "shape", "count", "position", "exists")
LABELS = {
    "ko": {
        "kinds": {"color": "색", "shape": "모양", "count": "개수", "position": "위치",
                  "exists": "존재 여부"},
        "accuracy": "정확도, 환각 비율",
        "hallucination": "환각 비율\n(없는 물체에 '예')",
        "title": "질문 종류별 정확도와 환각 비율\n(테스트 장면 {scenes}개, 질문 {questions}개)",
        "metric": "지표",
    },
    "en": {
        "kinds": {kind: kind for kind in ("color", "shape", "count", "position", "exists")},
        "accuracy": "accuracy, hallucination rate",
        "hallucination": "hallucination rate\n('yes' to an absent object)",
        "title": "Accuracy by question kind, and hallucination rate\n"
                 "({scenes} test scenes, {questions} questions)",
        "metric": "metric",
    },
}
COLORS = {"LLaVA": "#ef6c00", "BLIP VQA": "#3949ab"}


@figure("llava-accuracy-by-kind")
def draw_accuracy(lang: str):
    labels = LABELS[lang]
    groups = [labels["kinds"][kind] for kind in KINDS] + [labels["hallucination"]]
    x = np.arange(len(groups))
    fig, ax = plt.subplots(figsize=(8.5, 3.8))
    for offset, name in zip((-0.2, 0.2), predictions):
        values = [accuracy[name].get(kind, 0.0) for kind in KINDS]
        values.append(hallucination[name])
        bars = ax.bar(x + offset, values, width=0.38, color=COLORS[name], label=name)
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in values], fontsize=7)
    ax.axvline(len(KINDS) - 0.5, color="#999999", linewidth=0.8, linestyle="--")
    ax.set_xticks(x, groups, fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel(labels["accuracy"])
    ax.legend(loc="upper left", fontsize=8, ncol=2)
    title = labels["title"].format(scenes=NUM_SCENES, questions=len(questions))
    ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return fig
# --8<-- [end:figure]


from vlmbook.book import markdown


# The first five rows are the metrics that POPE reports. The last row is this book's own summary.
METRIC_NAMES = {
    "ko": {"accuracy": "정확도", "precision": "정밀도", "recall": "재현율", "f1": "F1",
           "yes_ratio": "\"예\" 비율", "hallucination": "환각 비율 (이 책의 지표)"},
    "en": {"accuracy": "accuracy", "precision": "precision", "recall": "recall", "f1": "F1",
           "yes_ratio": "\"yes\" ratio", "hallucination": "hallucination rate (this book's metric)"},
}


@markdown("llava-pope-table")
def pope_table(lang: str) -> str:
    metric_names = METRIC_NAMES[lang]
    names = list(predictions)
    rows = [f"| {LABELS[lang]['metric']} | " + " | ".join(names) + " |",
            "| --- |" + " ---: |" * len(names)]
    for metric in ("accuracy", "precision", "recall", "f1", "yes_ratio", "hallucination"):
        values = [hallucination[name] if metric == "hallucination" else pope[name][metric]
                  for name in names]
        rows.append(f"| {metric_names[metric]} | " + " | ".join(f"{v:.1%}" for v in values) + " |")
    return "\n".join(rows)


@markdown("llava-hallucination-rate")
def llava_hallucination(lang: str) -> str:
    return f"{hallucination['LLaVA']:.1%}"


@markdown("blip-hallucination-rate")
def blip_hallucination(lang: str) -> str:
    return f"{hallucination['BLIP VQA']:.1%}"


@markdown("llava-count-accuracy")
def llava_count_accuracy(lang: str) -> str:
    return f"{accuracy['LLaVA']['count']:.1%}"


@markdown("blip-count-accuracy")
def blip_count_accuracy(lang: str) -> str:
    return f"{accuracy['BLIP VQA']['count']:.1%}"


from collections import Counter

from vlmbook.shapesworld_text import COUNT_WORDS

# Question groups where the tiny LLaVA fails: counts whose answer is "zero", and
# position questions split into left-right and top-bottom. Each position question offers two
# answers, so guessing scores 50%.
ANSWER_GROUPS = {
    "count_zero": ("count", {"zero"}),
    "count_nonzero": ("count", set(COUNT_WORDS[1:])),
    "horizontal": ("position", {"left", "right"}),
    "vertical": ("position", {"top", "bottom", "above", "below"}),
}
GROUP_NAMES = {
    "ko": {"count_zero": "개수, 정답 zero", "count_nonzero": "개수, 정답 zero 외",
           "horizontal": "위치, 좌우 (left·right)", "vertical": "위치, 상하 (top·bottom·above·below)"},
    "en": {"count_zero": "count, answer zero", "count_nonzero": "count, other answers",
           "horizontal": "position, left-right", "vertical": "position, top-bottom (above-below)"},
}


def answer_group(kind: str, answer: str) -> str | None:
    """Return the group of ANSWER_GROUPS that a question belongs to, or None."""
    for group, (group_kind, group_answers) in ANSWER_GROUPS.items():
        if kind == group_kind and answer in group_answers:
            return group
    return None


# Accuracy per group, with the same exact-match rule as the accuracy per kind above.
groups = [answer_group(kind, answer) for kind, answer in zip(kinds, answers)]
group_sizes = Counter(group for group in groups if group is not None)
for group, (group_kind, group_answers) in ANSWER_GROUPS.items():
    if group not in group_sizes:
        raise ValueError(f"no {group_kind} question with an answer in {sorted(group_answers)}; use more scenes")
grouped = [i for i, group in enumerate(groups) if group is not None]
group_accuracy = {
    name: accuracy_by_kind(
        [predicted[i] for i in grouped], [answers[i] for i in grouped], [groups[i] for i in grouped]
    )
    for name, predicted in predictions.items()
}

# LLaVA's most common answer to the "zero" count questions, and its share of them.
zero_outputs = Counter(
    predictions["LLaVA"][i] for i, group in enumerate(groups) if group == "count_zero"
)
zero_top_answer = min(zero_outputs, key=lambda output: (-zero_outputs[output], output))
zero_top_share = zero_outputs[zero_top_answer] / group_sizes["count_zero"]


@markdown("llava-answer-groups-table")
def answer_groups_table(lang: str) -> str:
    names = list(predictions)
    first_columns = {"ko": "| 질문 | 질문 수 |", "en": "| question group | questions |"}[lang]
    rows = [f"{first_columns} " + " | ".join(names) + " |", "| --- | ---: |" + " ---: |" * len(names)]
    for group in ANSWER_GROUPS:
        values = [group_accuracy[name][group] for name in names]
        rows.append(f"| {GROUP_NAMES[lang][group]} | {group_sizes[group]} | "
                    + " | ".join(f"{v:.0%}" for v in values) + " |")
    return "\n".join(rows)


@markdown("llava-count-zero-accuracy")
def llava_count_zero(lang: str) -> str:
    return f"{group_accuracy['LLaVA']['count_zero']:.0%}"


@markdown("llava-count-zero-top-answer")
def llava_count_zero_answer(lang: str) -> str:
    return f"`{zero_top_answer}`"


@markdown("llava-count-zero-top-share")
def llava_count_zero_share(lang: str) -> str:
    return f"{zero_top_share:.0%}"


@markdown("llava-overall-accuracy")
def llava_overall(lang: str) -> str:
    return f"{accuracy['LLaVA']['all']:.1%}"


@markdown("blip-overall-accuracy")
def blip_overall(lang: str) -> str:
    return f"{accuracy['BLIP VQA']['all']:.1%}"


@markdown("llava-num-questions")
def num_questions(lang: str) -> str:
    return str(len(questions))
