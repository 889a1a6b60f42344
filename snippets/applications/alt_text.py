"""Generator: alt text for accessibility from the embedded BLIP captioner, with uncertain captions flagged.

Each caption comes with a confidence: the probability of its least likely
token. Captions below a threshold are flagged for a person to check, and the
alt text says that it was generated. ShapesWorld's ground truth says which
captions are right. The page embeds the `describe`, `evaluate`, `flag` and
`figure` sections, and the `pipeline` section shows the shortest way to a caption.
"""

# --8<-- [start:pipeline]
from transformers import pipeline

import vlmbook
from vlmbook.shapesworld import ShapesWorld

captioner = pipeline("image-text-to-text", model=vlmbook.checkpoint("blip-captioning"))
scene = ShapesWorld("test", seed=0)[1]
print(captioner(scene.image, text="")[0]["generated_text"])  # an empty prompt: caption from scratch
# --8<-- [end:pipeline]

# --8<-- [start:describe]
import torch
from transformers import BlipForConditionalGeneration, BlipProcessor

import vlmbook
from vlmbook.shapesworld import ShapesWorld

folder = vlmbook.checkpoint("blip-captioning")  # VLMBOOK_CHECKPOINTS=hub: "Salesforce/blip-image-captioning-base"
processor = BlipProcessor.from_pretrained(folder)
model = BlipForConditionalGeneration.from_pretrained(folder).eval()


@torch.no_grad()
def describe(images: list) -> tuple[list[str], torch.Tensor]:
    """Caption each image greedily; return the captions and each one's confidence (B,).

    The confidence is the probability of the caption's least likely token: a
    description is only as reliable as its weakest word.
    """
    inputs = processor(images=images, return_tensors="pt")
    output = model.generate(**inputs, max_new_tokens=20, output_scores=True, return_dict_in_generate=True)
    log_probs = model.compute_transition_scores(output.sequences, output.scores, normalize_logits=True)  # (B, T - 1)
    generated = output.sequences[:, 1:]  # the first token is the decoder's start token, not generated
    is_token = generated != processor.tokenizer.pad_token_id  # padding after [SEP] in shorter captions
    confidence = log_probs.masked_fill(~is_token, 0.0).amin(dim=1).exp()  # (B,)
    captions = [text.strip() for text in processor.batch_decode(output.sequences, skip_special_tokens=True)]
    return captions, confidence


scenes = ShapesWorld("test", min_objects=1, max_objects=2, seed=0).scenes(range(300))
captions, confidence = describe([scene.image for scene in scenes])
for scene, caption, score in list(zip(scenes, captions, confidence.tolist()))[:3]:
    print(f"truth {scene.captions[0]!r}\n  model {caption!r}, confidence {score:.2f}")
# --8<-- [end:describe]

# --8<-- [start:evaluate]
from vlmbook.evaluation import caption_attribute_accuracy, roc_auc

# A caption is right when its colors, shapes and relation words all match the truth, in order.
right = [caption_attribute_accuracy([caption], [scene.captions[0]])["all"] == 1.0
         for caption, scene in zip(captions, scenes)]
auc = roc_auc(confidence.tolist(), [int(r) for r in right])  # 0.5: confidence says nothing about rightness
print(f"right captions: {sum(right) / len(right):.1%}; ROC-AUC of confidence for rightness: {auc:.3f}")
# --8<-- [end:evaluate]

# --8<-- [start:flag]
import math

FLAG_BELOW = 0.5  # flag a caption whose weakest token had less than even odds


def alt_text(caption: str, confidence: float) -> str:
    """Write alt text that says it was generated, and asks for a check when the model was unsure."""
    if confidence < FLAG_BELOW:
        return f"Automatic description, may be wrong: {caption}"
    return f"Automatic description: {caption}"


print(alt_text(captions[0], confidence[0].item()))


def flag_report(threshold: float) -> tuple[float, float, float]:
    """Share of captions flagged, and the share of right captions among the accepted and the flagged ones."""
    flagged = [score < threshold for score in confidence.tolist()]
    accepted_right = [r for r, f in zip(right, flagged) if not f]
    flagged_right = [r for r, f in zip(right, flagged) if f]
    share = sum(flagged) / len(flagged)
    return (share, sum(accepted_right) / max(len(accepted_right), 1),
            sum(flagged_right) / len(flagged_right) if flagged_right else float("nan"))


def percent(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.1%}"


for threshold in (0.3, FLAG_BELOW, 0.7, 0.9):
    share, accepted, flagged = flag_report(threshold)
    print(f"flag below {threshold:.1f}: {share:.1%} flagged; right among accepted {percent(accepted)}, "
          f"among flagged {percent(flagged)}")
# --8<-- [end:flag]

# --8<-- [start:figure]
import textwrap

import matplotlib.pyplot as plt

from vlmbook.book import figure, markdown

LABELS = {
    "ko": {"truth": "정답", "model": "모델", "confidence": "신뢰도", "flagged": "검토 필요", "accepted": "통과",
           "right": "맞음", "wrong": "틀림"},
    "en": {"truth": "truth", "model": "model", "confidence": "confidence", "flagged": "flagged", "accepted": "accepted",
           "right": "right", "wrong": "wrong"},
}
# Show the four least confident captions beside the four most confident ones.
order = confidence.argsort().tolist()
GRID = order[:4] + order[-4:]


@figure("applications-alt-text-grid")
def draw_alt_text_grid(lang: str):
    labels = LABELS[lang]
    fig, axes = plt.subplots(2, 4, figsize=(10.0, 6.6))
    for ax, i in zip(axes.flat, GRID):
        score = confidence[i].item()
        status = labels["flagged"] if score < FLAG_BELOW else labels["accepted"]
        ax.imshow(scenes[i].image)
        ax.set_axis_off()
        lines = [textwrap.fill(f"{labels['truth']}: {scenes[i].captions[0]}", 28),
                 textwrap.fill(f"{labels['model']}: {captions[i]}", 28),
                 f"{labels['confidence']} {score:.2f} ({status}), {labels['right' if right[i] else 'wrong']}"]
        ax.set_title("\n".join(lines), fontsize=8, loc="left", color="black" if right[i] else "#b00020")
    fig.tight_layout()
    return fig
# --8<-- [end:figure]


@markdown("applications-alt-text-table")
def flag_table(lang: str) -> str:
    if lang == "ko":
        header = "| 이 값보다 낮으면 검토 | 검토로 보낸 캡션 | 통과한 캡션 중 정답 | 검토로 보낸 캡션 중 정답 |"
    else:
        header = "| flag below | captions flagged | right among accepted | right among flagged |"
    lines = [header, "| --- | --- | --- | --- |"]
    for threshold in (0.0, 0.3, FLAG_BELOW, 0.7, 0.9):
        share, accepted, flagged = flag_report(threshold)
        lines.append(f"| {threshold:.1f} | {share:.1%} | {percent(accepted)} | {percent(flagged)} |")
    return "\n".join(lines)


@markdown("applications-alt-text-right")
def right_share(lang: str) -> str:
    return f"{sum(right) / len(right):.1%}"


@markdown("applications-alt-text-auc")
def confidence_auc(lang: str) -> str:
    return f"{auc:.3f}"


@markdown("applications-alt-text-scenes")
def scene_count(lang: str) -> str:
    return f"{len(scenes)}"


@markdown("applications-transformers-version")
def transformers_version(lang: str) -> str:
    import transformers

    return transformers.__version__
