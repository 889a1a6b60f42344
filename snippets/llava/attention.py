"""Generator: where in the image LLaVA's decoder looks when it writes an answer.

The page embeds the `attention` section. The image tokens sit inside the
decoder's own sequence, so the columns of its self-attention at the image
token positions are LLaVA's attention to the image.
"""

# --8<-- [start:attention]
import torch
from transformers import AutoProcessor, LlavaForConditionalGeneration

import vlmbook
from vlmbook.recipes.llava import chat_prompt
from vlmbook.shapesworld import ShapesWorld

checkpoint = vlmbook.checkpoint("llava")
processor = AutoProcessor.from_pretrained(checkpoint)
# Eager attention computes the weights; the fused SDPA kernel returns none.
model = LlavaForConditionalGeneration.from_pretrained(
    checkpoint, attn_implementation="eager"
).eval()
config = model.config
grid_side = config.vision_config.image_size // config.vision_config.patch_size
scene = ShapesWorld("test", max_objects=2, seed=0)[0]


@torch.no_grad()
def answer_attention(image, question: str) -> tuple[str, torch.Tensor]:
    """Return the answer and the answering position's attention to each patch."""
    inputs = processor(
        images=image, text=chat_prompt(processor, question), return_tensors="pt"
    )
    output = model(**inputs, output_attentions=True)  # one (1, H, T, T) per layer
    answer = processor.decode(output.logits[0, -1].argmax())  # the greedy answer

    # Row -1 is the last prompt position: its output is the answer token.
    weights = torch.stack(output.attentions).mean(dim=(0, 2))[0]  # (T, T)
    is_image = inputs.input_ids[0] == config.image_token_id  # (T,)
    to_image = weights[-1, is_image]  # (N_img,)
    if config.vision_feature_select_strategy == "full":
        to_image = to_image[1:]  # the first image token is CLS, not a patch
    return answer, to_image.reshape(grid_side, grid_side)  # (gh, gw), row-major


results = []
for qa in scene.questions[:3]:
    answer, heatmap = answer_attention(scene.image, qa.question)
    results.append((qa.question, answer, heatmap))
    share = heatmap.sum().item()  # the rest goes to text tokens (and CLS)
    print(f"{qa.question:<40} -> {answer:<7} {share:.0%} on image patches")
# --8<-- [end:attention]

import matplotlib.pyplot as plt

from vlmbook.book import figure
from vlmbook.viz import overlay

TITLES = {
    "ko": {"image": "입력 이미지", "answer": "답", "truth": "정답", "suptitle": "답을 만드는 위치가 이미지 패치에 준 어텐션 (층과 헤드 평균)"},
    "en": {"image": "input image", "answer": "answer", "truth": "truth", "suptitle": "Attention from the answering position to the image patches\n(mean over layers and heads)"},
}


@figure("llava-answer-attention")
def draw_answer_attention(lang: str):
    fig, axes = plt.subplots(1, 1 + len(results), figsize=(2.6 * (1 + len(results)), 3.2))
    axes[0].imshow(scene.image)
    axes[0].set_title(TITLES[lang]["image"], fontsize=9)
    axes[0].set_axis_off()
    # `results` follows the scene's questions in order, so zip pairs each with its truth.
    for ax, qa, (question, answer, heatmap) in zip(axes[1:], scene.questions, results):
        overlay(scene.image, heatmap, ax=ax, alpha=0.6)
        truth = f"{TITLES[lang]['truth']}: {qa.answer}"
        ax.set_title(f"{question}\n{TITLES[lang]['answer']}: {answer}, {truth}", fontsize=8)
    fig.suptitle(TITLES[lang]["suptitle"], fontsize=10)
    return fig
