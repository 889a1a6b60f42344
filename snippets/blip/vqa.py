"""Generator: BLIP visual question answering on ShapesWorld, accuracy per question kind.

The chapter embeds the `answer` section. The accuracy table compares the
`test` split with `test_heldout`, whose scenes each contain a color-shape
pair that training never showed.
"""

# --8<-- [start:answer]
import torch
from transformers import BlipForQuestionAnswering, BlipProcessor

import vlmbook
from vlmbook.shapesworld import ShapesWorld

folder = vlmbook.checkpoint("blip-vqa")  # or "Salesforce/blip-vqa-base" with VLMBOOK_CHECKPOINTS=hub
processor = BlipProcessor.from_pretrained(folder)
model = BlipForQuestionAnswering.from_pretrained(folder).eval()


def answer(images: list, questions: list[str]) -> list[str]:
    """Answer each question about its image greedily, in at most 4 tokens."""
    inputs = processor(images=images, text=questions, padding=True, return_tensors="pt")
    with torch.no_grad():
        ids = model.generate(**inputs, max_new_tokens=4)  # (B, T)
    return [text.strip() for text in processor.batch_decode(ids, skip_special_tokens=True)]


scene = ShapesWorld("test", image_size=64, max_objects=2, seed=0)[0]
predictions = answer([scene.image] * len(scene.questions), [qa.question for qa in scene.questions])
for qa, prediction in zip(scene.questions, predictions):
    print(f"{qa.kind:<9} {qa.question:<45} truth {qa.answer:<7} model {prediction}")
# --8<-- [end:answer]

# --8<-- [start:accuracy]
from vlmbook.evaluation import accuracy_by_kind


def accuracy_per_kind(split: str, num_scenes: int) -> dict[str, float]:
    """Exact-match accuracy per question kind over every question of the first scenes of a split."""
    world = ShapesWorld(split, image_size=64, max_objects=2, seed=0)
    pairs = [(scene.image, qa) for scene in (world[i] for i in range(num_scenes)) for qa in scene.questions]
    predictions = answer([image for image, _ in pairs], [qa.question for _, qa in pairs])
    return accuracy_by_kind(predictions, [qa.answer for _, qa in pairs], [qa.kind for _, qa in pairs])
# --8<-- [end:accuracy]

from vlmbook.book import markdown

NUM_SCENES = 100  # up to 6 questions each, fewer where no phrase picks out one object unambiguously
SPLITS = ("test", "test_heldout")
ACCURACY = {split: accuracy_per_kind(split, NUM_SCENES) for split in SPLITS}


def question_count(split: str, num_scenes: int) -> int:
    """Count the questions of the first scenes of a split."""
    world = ShapesWorld(split, image_size=64, max_objects=2, seed=0)
    return sum(len(scene.questions) for scene in world.scenes(range(num_scenes)))


NUM_QUESTIONS = {split: question_count(split, NUM_SCENES) for split in SPLITS}

KIND_NAMES = {
    "ko": {"color": "색 (color)", "shape": "모양 (shape)", "count": "개수 (count)", "position": "위치 (position)",
           "exists": "존재 여부 (exists)", "all": "전체"},
    "en": {"color": "color", "shape": "shape", "count": "count", "position": "position", "exists": "exists",
           "all": "all"},
}
HEADERS = {
    "ko": "| 질문 종류 | `test` | `test_heldout` (처음 보는 색-모양 조합) |",
    "en": "| question kind | `test` | `test_heldout` (unseen color-shape pairs) |",
}


@markdown("blip-vqa-table")
def vqa_table(lang: str) -> str:
    lines = [HEADERS[lang], "| --- | --- | --- |"]
    for kind in ("color", "shape", "count", "position", "exists", "all"):
        test, heldout = ACCURACY["test"].get(kind, float("nan")), ACCURACY["test_heldout"].get(kind, float("nan"))
        lines.append(f"| {KIND_NAMES[lang][kind]} | {test:.1%} | {heldout:.1%} |")
    return "\n".join(lines)


def percent(split: str, kind: str) -> str:
    return f"{ACCURACY[split][kind]:.1%}"


@markdown("blip-vqa-question-counts")
def question_counts(lang: str) -> str:
    test, heldout = NUM_QUESTIONS["test"], NUM_QUESTIONS["test_heldout"]
    if lang == "ko":
        return f"`test` 질문 {test}개, `test_heldout` 질문 {heldout}개"
    return f"{test} questions in `test` and {heldout} in `test_heldout`"


@markdown("blip-vqa-position-accuracy")
def position_accuracy(lang: str) -> str:
    return percent("test", "position")


@markdown("blip-vqa-shape-accuracy")
def shape_accuracy(lang: str) -> str:
    return percent("test", "shape")


@markdown("blip-vqa-test-color-accuracy")
def test_color_accuracy(lang: str) -> str:
    return percent("test", "color")


@markdown("blip-vqa-heldout-color-accuracy")
def heldout_color_accuracy(lang: str) -> str:
    return percent("test_heldout", "color")


@markdown("blip-vqa-heldout-shape-accuracy")
def heldout_shape_accuracy(lang: str) -> str:
    return percent("test_heldout", "shape")
