"""Generator: where in the image LLaVA's decoder looks when it writes an answer.

The page embeds the `attention` section. The image tokens sit inside the
decoder's own sequence, so the columns of its self-attention at the image
token positions are LLaVA's attention to the image.
"""

# --8<-- [start:attention]
import torch
from transformers import AutoProcessor, LlavaForConditionalGeneration

import vlmbook
from vlmbook.shapesworld import ShapesWorld
from vlmbook.viz import llava_image_attention

checkpoint = vlmbook.checkpoint("llava")
processor = AutoProcessor.from_pretrained(checkpoint)
# Eager attention computes the weights; the fused SDPA kernel returns none.
model = LlavaForConditionalGeneration.from_pretrained(checkpoint, attn_implementation="eager").eval()
scene = ShapesWorld("test", max_objects=3, seed=0)[0]


@torch.no_grad()
def answer_attention(image, question: str) -> tuple[str, torch.Tensor]:
    """Generate the answer, then return it with the answering position's attention to each patch (gh, gw)."""
    conversation = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
    prompt = processor.apply_chat_template(conversation, add_generation_prompt=True)
    inputs = processor(images=image, text=prompt, return_tensors="pt")
    output_ids = model.generate(**inputs, max_new_tokens=1, do_sample=False)  # (1, T + 1)
    answer = processor.decode(output_ids[0, -1])

    # The last prompt position is the one whose output is the answer token.
    layers = range(model.config.text_config.num_hidden_layers)
    maps = [llava_image_attention(model, inputs.input_ids, inputs.pixel_values, layer=i) for i in layers]
    answering_row = torch.stack(maps).mean(dim=0)[0, -1]  # (gh, gw), averaged over layers and heads
    return answer, answering_row


results = [(qa.question, *answer_attention(scene.image, qa.question)) for qa in scene.questions[:3]]
for question, answer, heatmap in results:
    share = heatmap.sum().item()  # the rest of the attention goes to text tokens
    print(f"{question:<40} -> {answer:<7} {share:.0%} of its attention on image tokens")
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
