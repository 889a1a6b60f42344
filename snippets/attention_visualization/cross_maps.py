"""Generator: where words look in the image, in BLIP's caption decoder and in LLaVA's decoder.

The page embeds the `blip`, `llava` and `figure` sections as one script.
"""

# --8<-- [start:blip]
import torch
from transformers import BlipForConditionalGeneration, BlipProcessor

import vlmbook
from vlmbook.shapesworld import ShapesWorld
from vlmbook.viz import caption_cross_attention

blip_folder = vlmbook.checkpoint("blip-captioning")
blip = BlipForConditionalGeneration.from_pretrained(blip_folder, attn_implementation="eager").eval()
blip_processor = BlipProcessor.from_pretrained(blip_folder)

scene = ShapesWorld("test", min_objects=2, max_objects=2, seed=0)[3]
inputs = blip_processor(images=scene.image, text=scene.captions[0], return_tensors="pt")
input_ids = inputs.input_ids.clone()  # (1, T): [CLS] a small orange triangle ... [SEP]
input_ids[:, 0] = blip.config.text_config.bos_token_id  # the decoder starts from [DEC]
word_maps = caption_cross_attention(blip, inputs.pixel_values, input_ids)[0]  # (T, gh, gw)

# The decoder reads position t - 1 when it writes the word at position t.
tokens = blip_processor.tokenizer.convert_ids_to_tokens(input_ids[0])
words = tokens[1:-1]  # drop [DEC] and [SEP]
maps_per_word = word_maps[:-2]  # (T - 2, gh, gw): the map that wrote each word
print(scene.captions[0])
print("word maps", tuple(maps_per_word.shape), "for", len(words), "words")
# --8<-- [end:blip]

# --8<-- [start:llava]
from transformers import AutoProcessor, LlavaForConditionalGeneration

from vlmbook.recipes.llava import chat_prompt

llava_folder = vlmbook.checkpoint("llava")
llava = LlavaForConditionalGeneration.from_pretrained(llava_folder, attn_implementation="eager").eval()
llava_processor = AutoProcessor.from_pretrained(llava_folder)
config = llava.config
grid_side = config.vision_config.image_size // config.vision_config.patch_size


@torch.no_grad()
def answer_image_attention(question: str) -> torch.Tensor:
    """Map the answering position's attention to the image patches (gh, gw), mean of layers and heads."""
    llava_inputs = llava_processor(images=scene.image, text=chat_prompt(llava_processor, question), return_tensors="pt")
    output = llava(**llava_inputs, output_attentions=True)  # one (1, H, T, T) per layer
    weights = torch.stack(output.attentions).mean(dim=(0, 2))[0]  # (T, T)

    # Row -1 is the last prompt position, which writes the answer; image tokens are columns.
    is_image = llava_inputs.input_ids[0] == config.image_token_id  # (T,)
    to_image = weights[-1, is_image]  # (N_img,)
    if config.vision_feature_select_strategy == "full":
        to_image = to_image[1:]  # the first image token is CLS, not a patch
    return to_image.reshape(grid_side, grid_side)  # row-major, like the patches


questions = [qa for qa in scene.questions if qa.kind in ("color", "shape")][:3]
answer_maps = [answer_image_attention(qa.question) for qa in questions]
for qa, answer_map in zip(questions, answer_maps):
    print(f"{qa.question:<36} answer {qa.answer:<8} image share {answer_map.sum():.2f}")
# --8<-- [end:llava]

# --8<-- [start:figure]
import matplotlib.pyplot as plt

from vlmbook.book import figure
from vlmbook.viz import overlay

TITLES = {"ko": {"image": "입력 이미지", "answer": "정답"}, "en": {"image": "input image", "answer": "true answer"}}


@figure("attention-word-maps")
def draw_word_maps(lang: str):
    columns = 1 + len(words)
    fig, axes = plt.subplots(2, columns, figsize=(1.45 * columns, 3.6), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    axes[0, 0].imshow(scene.image)
    axes[0, 0].set_title(TITLES[lang]["image"], fontsize=8)
    for column, (word, heatmap) in enumerate(zip(words, maps_per_word), start=1):
        overlay(scene.image, heatmap, ax=axes[0, column], alpha=0.6)
        axes[0, column].set_title(f"BLIP: {word}", fontsize=8)
    for column, (qa, heatmap) in enumerate(zip(questions, answer_maps), start=1):
        overlay(scene.image, heatmap, ax=axes[1, column], alpha=0.6)
        axes[1, column].set_title(f"LLaVA\n{qa.question}\n{TITLES[lang]['answer']}: {qa.answer}", fontsize=6.5)
    fig.tight_layout()
    return fig
# --8<-- [end:figure]
