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
from vlmbook.viz import llava_image_attention

llava_folder = vlmbook.checkpoint("llava")
llava = LlavaForConditionalGeneration.from_pretrained(llava_folder, attn_implementation="eager").eval()
llava_processor = AutoProcessor.from_pretrained(llava_folder)
num_layers = llava.config.text_config.num_hidden_layers

questions = [qa for qa in scene.questions if qa.kind in ("color", "shape")][:3]
answer_maps = []
for qa in questions:
    llava_inputs = llava_processor(images=scene.image, text=chat_prompt(llava_processor, qa.question), return_tensors="pt")
    per_layer = [llava_image_attention(llava, llava_inputs.input_ids, llava_inputs.pixel_values, layer=layer)
                 for layer in range(num_layers)]  # each (1, T, gh, gw)
    answer_maps.append(torch.stack(per_layer).mean(dim=0)[0, -1])  # last prompt position: it writes the answer
    print(f"{qa.question:<36} answer {qa.answer:<8} image share {answer_maps[-1].sum():.2f}")
# --8<-- [end:llava]

# --8<-- [start:figure]
import matplotlib.pyplot as plt

from vlmbook.book import figure
from vlmbook.viz import overlay

TITLES = {"ko": {"image": "입력 이미지", "answer": "정답"}, "en": {"image": "input image", "answer": "answer"}}


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
