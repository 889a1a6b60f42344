"""Turn whatever a reader passes in into what a model expects: RGB images, framed text, matching tensors.

Images: every input becomes an upright 8-bit RGB ``PIL.Image``, which both the
vlmbook models and transformers' image processors read the same way.
Grayscale, palette, 16-bit and CMYK images are converted, and transparent
pixels become white. A JPEG's EXIF orientation is applied. Arrays may be
channels-first or channels-last. Float arrays in [0, 1] are scaled to 0-255
exactly once, so an image processor's rescale by 1/255 restores them.

Text: captions longer than the model's context are truncated with the
end-of-text token kept, because CLIP reads the caption at that token.
LLaVA prompts are checked for one image placeholder per image, and truncation
there removes text, never image tokens.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

COLOR_AXIS_SIZES = (1, 3, 4)  # gray, RGB, RGBA


# --8<-- [start:rgb]
def to_rgb(image) -> Image.Image:
    """Return ``image`` (PIL image, array, tensor or file path) as an upright 8-bit RGB PIL image."""
    if isinstance(image, (str, Path)):
        with Image.open(image) as opened:
            image = ImageOps.exif_transpose(opened)  # a loaded copy, upright
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    if isinstance(image, np.ndarray):
        image = Image.fromarray(array_to_uint8(image))
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL image, a numpy array, a tensor or a path, got {type(image).__name__}")

    # EXIF orientation: phones store a portrait photo as landscape pixels plus a rotation tag.
    image = ImageOps.exif_transpose(image)

    # 16- and 32-bit grayscale ("I;16", "I", "F"): scale the value range to 0-255.
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        image = Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8))

    # Transparency (RGBA, LA, or a palette with a transparent index) is composited over white.
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return image.convert("RGB")
# --8<-- [end:rgb]


def array_to_uint8(array: np.ndarray) -> np.ndarray:
    """Convert an (H, W), (H, W, C) or (C, H, W) array to uint8 (H, W) or (H, W, C)."""
    if array.ndim == 3 and is_channels_first(array.shape):
        array = np.moveaxis(array, 0, -1)  # (C, H, W) -> (H, W, C)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ValueError(f"cannot read an image from an array of shape {array.shape}; expected (H, W), "
                         "(H, W, 3|4) or (3|4, H, W)")

    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype == np.uint16:
        return (array.astype(np.float64) / 257.0 + 0.5).astype(np.uint8)
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    # Floats in [0, 1] are scaled once; larger values are taken to be 0-255 already.
    values = array.astype(np.float64)
    if values.size and values.max() <= 1.0:
        values = values * 255.0
    return np.clip(values + 0.5, 0, 255).astype(np.uint8)


def is_channels_first(shape: tuple[int, ...]) -> bool:
    """Guess whether a 3-D image shape is (C, H, W); ties go to (H, W, C), the PIL and numpy layout."""
    first, last = shape[0], shape[-1]
    first_is_color, last_is_color = first in COLOR_AXIS_SIZES, last in COLOR_AXIS_SIZES
    if first_is_color and last_is_color:
        # Only a trailing 1 next to a leading 3 or 4 reads better as channels-first:
        # (3, 1, 1) is one RGB pixel, while (4, 4, 3) and (1, 1000, 3) are RGB images.
        return last == 1 and first in (3, 4)
    return first_is_color


# --8<-- [start:text]
def tokenize_captions(tokenizer, texts: list[str], max_length: int, eos_token_id: int) -> dict[str, torch.Tensor]:
    """Tokenize, pad and truncate captions so that each row ends in ``eos_token_id``.

    A caption longer than ``max_length`` tokens keeps its first words and its
    end-of-text token, so a 200-word caption scores like its truncated form.
    """
    if isinstance(texts, str):
        texts = [texts]
    encoded = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    input_ids, attention_mask = encoded["input_ids"], encoded["attention_mask"]

    # A tokenizer that truncates after adding special tokens drops the end token: put it back.
    last_real = attention_mask.sum(dim=1) - 1  # (B,)
    rows = torch.arange(len(input_ids))
    input_ids[rows, last_real] = eos_token_id
    return {"input_ids": input_ids, "attention_mask": attention_mask}
# --8<-- [end:text]


# --8<-- [start:llava_prompt]
def check_llava_prompt(prompt: str, num_images: int, image_placeholder: str = "<image>") -> None:
    """Raise before any model runs if ``prompt`` has no image placeholder or not one per image."""
    found = prompt.count(image_placeholder)
    if found == 0:
        raise ValueError(
            f"the prompt {prompt[:60]!r} has no {image_placeholder} placeholder; "
            f"put one where each image belongs, for example 'user: {image_placeholder} what is shown?'"
        )
    if found != num_images:
        raise ValueError(
            f"the prompt has {found} {image_placeholder} placeholder(s) but {num_images} image(s) were given; "
            "use one placeholder per image"
        )


def truncate_keeping_images(input_ids: torch.Tensor, max_length: int, image_token_id: int,
                            keep_first: int = 1) -> torch.Tensor:
    """Shorten a (1, T) prompt to ``max_length`` by dropping the oldest text tokens, never image tokens.

    The first ``keep_first`` tokens (the start token) and the end of the prompt,
    where the question and "assistant:" sit, are kept.
    """
    ids = input_ids[0]
    excess = len(ids) - max_length
    if excess <= 0:
        return input_ids
    is_text = ids != image_token_id
    is_text[:keep_first] = False
    droppable = is_text.nonzero().flatten()
    if len(droppable) < excess:
        raise ValueError(
            f"the prompt needs {len(ids)} tokens and only {len(droppable)} text tokens can be dropped to reach "
            f"max_length={max_length}; raise max_length, the image tokens alone take "
            f"{int((ids == image_token_id).sum())}"
        )
    keep = torch.ones_like(ids, dtype=torch.bool)
    keep[droppable[:excess]] = False
    return ids[keep][None]
# --8<-- [end:llava_prompt]


# --8<-- [start:match]
def match_model(inputs: dict, model: torch.nn.Module) -> dict:
    """Move tensors to the model's device and cast float tensors to its dtype; ids stay integers.

    A float16 model on the CPU is converted to float32 first, with a warning,
    because CPU half precision is slow and lacks some kernels.
    """
    parameter = next(model.parameters())
    if parameter.dtype == torch.float16 and parameter.device.type == "cpu":
        warnings.warn("float16 on the CPU is slow and partly unsupported; converting the model to float32",
                      stacklevel=2)
        model.float()
        parameter = next(model.parameters())

    matched = {}
    for key, value in inputs.items():
        if isinstance(value, torch.Tensor):
            value = value.to(parameter.device)
            if value.is_floating_point():
                value = value.to(parameter.dtype)
        matched[key] = value
    return matched
# --8<-- [end:match]
