"""Generator: how many image tokens one image costs, and where they sit in the prompt.

The page embeds the `count`, `public` and `prompt` sections; the figure marks
the image tokens in the token sequence that the processor builds.
"""

# --8<-- [start:count]
from transformers import AutoConfig

import vlmbook

config = AutoConfig.from_pretrained(vlmbook.checkpoint("llava"))
vision = config.vision_config

# One token per patch; the "default" strategy drops the CLS token, "full" keeps it.
patches_per_side = vision.image_size // vision.patch_size
num_patches = patches_per_side**2
keeps_cls = config.vision_feature_select_strategy == "full"
num_image_tokens = num_patches + int(keeps_cls)

print(f"image {vision.image_size} px, patch {vision.patch_size} px")
print(f"patch grid: {patches_per_side} x {patches_per_side} = {num_patches} patches")
strategy = config.vision_feature_select_strategy
print(f"strategy {strategy!r}: {num_image_tokens} image tokens per image")
# --8<-- [end:count]

# --8<-- [start:public]
from vlmbook.llava import LlavaConfig

public = LlavaConfig.llava_1_5_7b()  # llava-hf/llava-1.5-7b-hf: ViT-L/14, 336 px
size, patch = public.vision.image_size, public.vision.patch_size
side = size // patch
print(f"LLaVA-1.5: {size} // {patch} = {side}; {side} x {side} = {side**2}")
# --8<-- [end:public]

# --8<-- [start:prompt]
from transformers import AutoProcessor

import vlmbook
from vlmbook.shapesworld import ShapesWorld

processor = AutoProcessor.from_pretrained(vlmbook.checkpoint("llava"))
scene = ShapesWorld("test", max_objects=2, seed=0)[0]

# One user turn: the image, then the question. The template writes one "<image>".
question = {"type": "text", "text": "how many objects are there?"}
conversation = [{"role": "user", "content": [{"type": "image"}, question]}]
prompt = processor.apply_chat_template(conversation, add_generation_prompt=True)
print(prompt)

# The processor repeats the placeholder once per image token.
inputs = processor(images=scene.image, text=prompt, return_tensors="pt")
tokens = processor.tokenizer.convert_ids_to_tokens(inputs.input_ids[0])
image_tokens = tokens.count(processor.image_token)
print(f"{len(tokens)} tokens, {image_tokens} of them {processor.image_token}")
# --8<-- [end:prompt]

# --8<-- [start:figure]
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

from vlmbook.book import figure

LABELS = {
    "ko": {
        "title": "LLaVA 프롬프트의 토큰 시퀀스",
        "text": "텍스트 토큰",
        "image": "이미지 토큰",
        "more": "이미지 토큰 {count}개",
    },
    "en": {
        "title": "The token sequence of a LLaVA prompt",
        "text": "text token",
        "image": "image token",
        "more": "{count} image tokens",
    },
}
TEXT_COLOR, IMAGE_COLOR = "#e8eaf6", "#ffcc80"
SHOWN_IMAGE_TOKENS = 3  # drawn at each end of the run of image tokens


def collapse_image_run(tokens: list[str], image_token: str) -> list[tuple]:
    """Return (label, first, last) position boxes, the middle image tokens as one."""
    image_positions = [i for i, token in enumerate(tokens) if token == image_token]
    first, last = image_positions[0], image_positions[-1]
    boxes = [(token, i, i) for i, token in enumerate(tokens[:first])]
    boxes += [(image_token, i, i) for i in range(first, first + SHOWN_IMAGE_TOKENS)]
    boxes.append(("...", first + SHOWN_IMAGE_TOKENS, last - SHOWN_IMAGE_TOKENS))
    tail = range(last - SHOWN_IMAGE_TOKENS + 1, last + 1)
    boxes += [(image_token, i, i) for i in tail]
    after = enumerate(tokens[last + 1 :], start=last + 1)
    boxes += [(token, i, i) for i, token in after]
    return boxes


@figure("llava-token-sequence")
def draw_token_sequence(lang: str):
    labels = LABELS[lang]
    boxes = collapse_image_run(tokens, processor.image_token)
    hidden = boxes[SHOWN_IMAGE_TOKENS + tokens.index(processor.image_token)]
    fig, ax = plt.subplots(figsize=(11, 2.2))
    ax.set_axis_off()
    ax.set_xlim(-0.6, len(boxes) - 0.4)
    ax.set_ylim(-0.95, 1.0)

    # One box per token, image tokens in orange, its sequence position under it.
    for x, (token, first, last) in enumerate(boxes):
        is_image = token in (processor.image_token, "...")
        color = IMAGE_COLOR if is_image else TEXT_COLOR
        box = FancyBboxPatch((x - 0.42, -0.35), 0.84, 0.7, boxstyle="round,pad=0.03",
                             facecolor=color, edgecolor="#5c6bc0")
        ax.add_patch(box)
        rotation = 90 if len(token) > 4 else 0
        ax.text(x, 0, token, ha="center", va="center", fontsize=8, rotation=rotation)
        position = str(first) if first == last else f"{first}-{last}"
        ax.text(x, -0.55, position, ha="center", va="top", fontsize=6.5,
                color="#555555")

    # A label over the summarized run of image tokens.
    middle = boxes.index(hidden)
    ax.text(middle, 0.62, labels["more"].format(count=image_tokens),
            ha="center", va="bottom", fontsize=9, color="#e65100")
    legend = [plt.Rectangle((0, 0), 1, 1, facecolor=color, edgecolor="#5c6bc0",
                            label=labels[kind])
              for kind, color in (("text", TEXT_COLOR), ("image", IMAGE_COLOR))]
    ax.legend(handles=legend, loc="lower right", bbox_to_anchor=(1.0, -0.12), ncol=2,
              fontsize=8, frameon=False)
    ax.set_title(labels["title"])
    return fig
# --8<-- [end:figure]


from vlmbook.book import markdown


@markdown("llava-image-tokens")
def image_token_count(lang: str) -> str:
    return str(num_image_tokens)


@markdown("llava-prompt-length")
def prompt_length(lang: str) -> str:
    return str(len(tokens))


@markdown("llava-vision-layers")
def vision_layers(lang: str) -> str:
    return str(vision.num_hidden_layers)


@markdown("llava-select-strategy")
def select_strategy(lang: str) -> str:
    return f'`"{strategy}"`'
