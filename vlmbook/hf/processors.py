"""Processors that pair the word-level tokenizer with an image processor.

Each processor saves to a folder that `AutoProcessor.from_pretrained(folder)`
loads offline. ShapesWorld renders images at the model's input size already,
so the image processors only rescale to [0, 1] and normalize with mean 0.5 and
std 0.5, which maps pixels to [-1, 1]. `normalize_pixels` does the same on a
tensor, so the recipes skip PIL on the training path.
"""

from __future__ import annotations

import torch
from transformers import BlipProcessor, CLIPProcessor, LlavaProcessor
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

from vlmbook.hf.tokenizer import IMAGE, build_tokenizer

IMAGE_MEAN = (0.5, 0.5, 0.5)
IMAGE_STD = (0.5, 0.5, 0.5)

# Chat format of the tiny LLaVA: "user: <image> what color is the circle? assistant:".
# NOTE: LLaVA-1.5 uses "USER: <image>\n... ASSISTANT:"; the tokenizer lowercases
# text, so the tiny model reads the same words in lowercase.
LLAVA_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ message['role'] }}:"
    "{%- if message['content'] is string -%}{{ ' ' + message['content'] }}"
    "{%- else -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' -%}{{ ' <image>' }}"
    "{%- elif item['type'] == 'text' -%}{{ ' ' + item['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{%- if message['role'] == 'assistant' -%}{{ ' </s>' }}{%- endif -%}"
    "{{ ' ' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}assistant:{%- endif -%}"
)


def normalize_pixels(pixel_values: torch.Tensor) -> torch.Tensor:
    """Map pixels in [0, 1], shape (B, 3, H, W), to the model's input range [-1, 1]."""
    mean = torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGE_STD).view(1, 3, 1, 1)
    return (pixel_values - mean) / std


def _image_kwargs(image_size: int) -> dict:
    return dict(
        size={"height": image_size, "width": image_size},
        do_center_crop=False,
        image_mean=list(IMAGE_MEAN),
        image_std=list(IMAGE_STD),
    )


def build_clip_processor(vocabulary: list[str], image_size: int, max_length: int) -> CLIPProcessor:
    """Build a CLIPProcessor: "[CLS] words [SEP]" text and [-1, 1] images."""
    tokenizer = build_tokenizer(vocabulary, style="bert", max_length=max_length)
    image_processor = CLIPImageProcessorPil(**_image_kwargs(image_size))
    return CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)


def build_blip_processor(vocabulary: list[str], image_size: int, max_length: int) -> BlipProcessor:
    """Build a BlipProcessor: "[CLS] words [SEP]" text and [-1, 1] images."""
    tokenizer = build_tokenizer(vocabulary, style="bert", max_length=max_length)
    image_processor = BlipImageProcessorPil(**_image_kwargs(image_size))
    return BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)


def build_llava_processor(
    vocabulary: list[str], image_size: int, patch_size: int, max_length: int
) -> LlavaProcessor:
    """Build a LlavaProcessor that expands "<image>" into one token per image feature.

    With `vision_feature_select_strategy="full"` the model keeps the vision
    tower's CLS token, so the processor writes 1 + (image_size / patch_size)**2
    image tokens: the patch count plus `num_additional_image_tokens=1` (CLS).
    """
    tokenizer = build_tokenizer(vocabulary, style="llama", max_length=max_length)
    image_processor = CLIPImageProcessorPil(**_image_kwargs(image_size))
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=patch_size,
        vision_feature_select_strategy="full",
        chat_template=LLAVA_CHAT_TEMPLATE,
        image_token=IMAGE,
        num_additional_image_tokens=1,
    )
