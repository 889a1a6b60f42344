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
from vlmbook.viz import llava_image_attention

checkpoint = vlmbook.checkpoint("llava")
processor = AutoProcessor.from_pretrained(checkpoint)
# Eager attention computes the weights; the fused SDPA kernel returns none.
model = LlavaForConditionalGeneration.from_pretrained(
    checkpoint, attn_implementation="eager"
).eval()
scene = ShapesWorld("test", max_objects=3, seed=0)[0]
num_layers = model.config.text_config.num_hidden_layers


@torch.no_grad()
def answer_attention(image, question: str) -> tuple[str, torch.Tensor]:
    """Return the answer and the answering position's attention to each patch."""
    prompt = chat_prompt(processor, question)
    inputs = processor(images=image, text=prompt, return_tensors="pt")
    output_ids = model.generate(**inputs, max_new_tokens=1, do_sample=False)
    answer = processor.decode(output_ids[0, -1])  # the one generated token

    # Row -1 is the last prompt position: its output is the answer token.
    maps = [
        llava_image_attention(model, inputs.input_ids, inputs.pixel_values, layer=i)
        for i in range(num_layers)
    ]  # each (1, T, gh, gw), averaged over heads
    return answer, torch.stack(maps).mean(dim=0)[0, -1]  # (gh, gw)


results = []
for qa in scene.questions[:3]:
    answer, heatmap = answer_attention(scene.image, qa.question)
    results.append((qa.question, answer, heatmap))
    share = heatmap.sum().item()  # the rest of the attention goes to text tokens
    print(f"{qa.question:<40} -> {answer:<7} {share:.0%} on image tokens")
# --8<-- [end:attention]

import matplotlib.pyplot as plt

from vlmbook.book import figure
from vlmbook.viz import overlay

TITLES = {
    "ko": {"image": "입력 이미지", "answer": "답", "suptitle": "답을 만드는 위치가 이미지 토큰에 준 어텐션 (층과 헤드 평균)"},
    "en": {"image": "input image", "answer": "answer", "suptitle": "Attention from the answering position to the image tokens (mean over layers and heads)"},
}


@figure("llava-answer-attention")
def draw_answer_attention(lang: str):
    fig, axes = plt.subplots(1, 1 + len(results), figsize=(2.6 * (1 + len(results)), 3.2))
    axes[0].imshow(scene.image)
    axes[0].set_title(TITLES[lang]["image"], fontsize=9)
    axes[0].set_axis_off()
    for ax, (question, answer, heatmap) in zip(axes[1:], results):
        overlay(scene.image, heatmap, ax=ax, alpha=0.6)
        ax.set_title(f"{question}\n{TITLES[lang]['answer']}: {answer}", fontsize=8)
    fig.suptitle(TITLES[lang]["suptitle"], fontsize=10)
    return fig
