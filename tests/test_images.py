"""Input handling: odd images, odd text and mismatched tensors reach the models in the form they expect.

Each image case checks vlmbook's ``to_rgb`` and then what it hands to a
transformers image processor. Each text case checks the ids and the scores
that the vlmbook and transformers CLIP models compute from them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import transformers
from PIL import Image

from vlmbook.clip import CLIP
from vlmbook.hf.configs import TINY, build_model, special_id
from vlmbook.hf.processors import build_clip_processor, build_llava_processor
from vlmbook.hf.tokenizer import IMAGE, SEP
from vlmbook.images import check_llava_prompt, match_model, to_rgb, tokenize_captions, truncate_keeping_images

VOCABULARY = ["a", "red", "green", "blue", "circle", "square", "left", "of", "the", "what", "color", "is"]
IMAGE_SIZE = 64


@pytest.fixture(scope="module")
def clip_processor():
    return build_clip_processor(VOCABULARY, image_size=IMAGE_SIZE, max_length=32)


def pixel_values(processor, image) -> torch.Tensor:
    return processor(images=to_rgb(image), return_tensors="pt")["pixel_values"]


def test_grayscale_becomes_rgb(clip_processor):
    """A mode "L" image becomes RGB with three equal channels, and the processor reads 3 channels."""
    gray = Image.fromarray(np.arange(64 * 64, dtype=np.uint8).reshape(64, 64))
    rgb = np.asarray(to_rgb(gray))
    assert rgb.shape == (64, 64, 3)
    assert np.array_equal(rgb[..., 0], rgb[..., 2])
    assert pixel_values(clip_processor, gray).shape == (1, 3, IMAGE_SIZE, IMAGE_SIZE)


def test_rgba_transparent_becomes_white(clip_processor):
    """Fully transparent pixels become white, opaque ones keep their color."""
    rgba = np.zeros((64, 64, 4), dtype=np.uint8)
    rgba[:, :32] = (255, 0, 0, 255)  # opaque red left half, transparent black right half
    rgb = np.asarray(to_rgb(Image.fromarray(rgba, "RGBA")))
    assert tuple(rgb[0, 0]) == (255, 0, 0)
    assert tuple(rgb[0, 63]) == (255, 255, 255)
    assert pixel_values(clip_processor, Image.fromarray(rgba, "RGBA"))[0, :, 0, 63].tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("transparent", [False, True])
def test_palette_image_becomes_rgb(transparent):
    """A palette image becomes its RGB colors; a transparent palette index becomes white."""
    image = Image.new("P", (8, 8), 0)
    image.putpalette([0, 0, 255] + [0, 255, 0] + [0, 0, 0] * 254)
    image.paste(1, (0, 0, 4, 8))
    if transparent:
        image.info["transparency"] = 0
    rgb = np.asarray(to_rgb(image))
    assert tuple(rgb[0, 0]) == (0, 255, 0)
    assert tuple(rgb[0, 7]) == ((255, 255, 255) if transparent else (0, 0, 255))


def test_sixteen_bit_scaled_to_eight(tmp_path, clip_processor):
    """16-bit images (a PNG file and a uint16 array) map 65535 to 255, not to a clipped 255 everywhere."""
    values = np.array([[0, 32896, 65535]] * 3, dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    from_file = np.asarray(to_rgb(path))[0, :, 0].tolist()
    from_array = np.asarray(to_rgb(values))[0, :, 0].tolist()
    assert from_file == [0, 128, 255]
    assert from_array == [0, 128, 255]
    assert pixel_values(clip_processor, path).shape == (1, 3, IMAGE_SIZE, IMAGE_SIZE)


def test_exif_rotated_jpeg_upright(tmp_path):
    """A JPEG stored landscape with orientation 6 (rotate 90 degrees clockwise) is returned portrait."""
    stored = np.zeros((20, 40, 3), dtype=np.uint8)
    stored[:, :20] = (255, 0, 0)  # left half red as stored; after the rotation it is the top half
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    upright = to_rgb(path)
    assert upright.size == (20, 40)  # width, height
    pixels = np.asarray(upright)
    assert pixels[5, 10, 0] > 200, "the red half should be on top"
    assert pixels[35, 10, 0] < 50, "the bottom half should be black"


@pytest.mark.parametrize("size", [(1, 1), (1000, 1), (1, 1000)])
def test_extreme_sizes_work(clip_processor, size):
    """1 x 1, 1000 x 1 and 1 x 1000 images pass through to_rgb and the processor."""
    image = Image.new("RGB", size, (10, 200, 30))
    assert to_rgb(image).size == size
    assert pixel_values(clip_processor, image).shape == (1, 3, IMAGE_SIZE, IMAGE_SIZE)


def test_channel_layouts_agree(clip_processor):
    """Channels-last and channels-first arrays, uint8 or float in [0, 1], give one image and one input."""
    rng = np.random.default_rng(0)
    hwc = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
    variants = {
        "uint8 HWC": hwc,
        "uint8 CHW": hwc.transpose(2, 0, 1),
        "float HWC": hwc / 255.0,
        "float CHW tensor": torch.from_numpy(hwc.transpose(2, 0, 1) / 255.0).float(),
    }
    expected = pixel_values(clip_processor, hwc)
    for name, variant in variants.items():
        assert np.array_equal(np.asarray(to_rgb(variant)), hwc), name
        assert torch.equal(pixel_values(clip_processor, variant), expected), name


def test_tiny_chw_image_read_as_rgb():
    """(3, 1, 1) is one RGB pixel and (1, 1000, 3) a 1 x 1000 RGB strip, not grayscale."""
    assert to_rgb(np.array([[[255]], [[0]], [[0]]], dtype=np.uint8)).getpixel((0, 0)) == (255, 0, 0)
    assert to_rgb(np.zeros((1, 1000, 3), dtype=np.uint8)).size == (1000, 1)


@pytest.fixture(scope="module")
def clip_pair(tmp_path_factory, clip_processor):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("clip_text")
    build_model("clip", vocab_size=len(clip_processor.tokenizer)).save_pretrained(folder)
    return CLIP.from_pretrained(folder), transformers.CLIPModel.from_pretrained(folder).eval()


def clip_logits(pair, processor, texts, max_length=32):
    ours, theirs = pair
    text = tokenize_captions(processor.tokenizer, texts, max_length=max_length, eos_token_id=special_id(SEP))
    image = processor(images=to_rgb(np.full((64, 64, 3), 128, np.uint8)), return_tensors="pt")
    with torch.no_grad():
        mine = ours(pixel_values=image["pixel_values"], **text).logits_per_text[:, 0]
        reference = theirs(pixel_values=image["pixel_values"], **text).logits_per_text[:, 0]
    return text, mine, reference


def test_empty_and_whitespace_captions(clip_pair, clip_processor):
    """"" and "   " become [CLS] [SEP] and score identically in both CLIPs."""
    text, mine, reference = clip_logits(clip_pair, clip_processor, ["", "   ", "a red circle"])
    assert text["input_ids"][0, :2].tolist() == [special_id("[CLS]"), special_id(SEP)]
    assert torch.isfinite(mine).all()
    assert torch.allclose(mine[0], mine[1], atol=1e-6), f"{mine[0].item()} vs {mine[1].item()}"
    assert torch.allclose(mine, reference, atol=1e-5)


def test_long_caption_scores_like_truncated(clip_pair, clip_processor):
    """A 200-word caption keeps [SEP] at its last position and scores like its first 30 words."""
    words = ("a red circle left of the blue square " * 25).split()[:200]
    text, mine, reference = clip_logits(clip_pair, clip_processor, [" ".join(words), " ".join(words[:30])])
    assert text["input_ids"].shape[1] == 32
    assert text["input_ids"][0, -1].item() == special_id(SEP)
    assert text["input_ids"][0].tolist() == text["input_ids"][1].tolist()
    assert torch.allclose(mine[0], mine[1], atol=1e-6), f"{mine[0].item()} vs {mine[1].item()}"
    assert torch.allclose(mine, reference, atol=1e-5)


@pytest.fixture(scope="module")
def llava_processor():
    return build_llava_processor(VOCABULARY, image_size=TINY.image_size, patch_size=TINY.patch_size, max_length=256)


def test_llava_prompt_without_placeholder_raises():
    """A prompt with no <image> is rejected with a message that shows how to write one."""
    with pytest.raises(ValueError, match="has no <image> placeholder"):
        check_llava_prompt("user: what color is the circle? assistant:", num_images=1)


def test_llava_prompt_placeholder_count_raises():
    """Two placeholders for one image are rejected before any model runs."""
    with pytest.raises(ValueError, match="2 <image> placeholder"):
        check_llava_prompt("user: <image> <image> what color? assistant:", num_images=1)


def test_llava_truncation_keeps_image_tokens(llava_processor):
    """Truncating a long prompt drops text only: every image token stays, and transformers' LLaVA runs on it."""
    prompt = "user: " + "the red circle is left of the blue square " * 8 + "<image> what color is the circle? assistant:"
    check_llava_prompt(prompt, num_images=1)
    image = to_rgb(np.zeros((TINY.image_size, TINY.image_size, 3), np.uint8))
    inputs = llava_processor(text=prompt, images=image, return_tensors="pt")
    image_id = special_id(IMAGE)
    torch.manual_seed(0)
    model = build_model("llava", vocab_size=len(llava_processor.tokenizer)).eval()
    keeps_cls = model.config.vision_feature_select_strategy == "full"
    num_image_tokens = (TINY.image_size // TINY.patch_size) ** 2 + int(keeps_cls)
    assert int((inputs["input_ids"] == image_id).sum()) == num_image_tokens
    max_length = num_image_tokens + 24
    truncated = truncate_keeping_images(inputs["input_ids"], max_length=max_length, image_token_id=image_id)
    assert truncated.shape == (1, max_length)
    assert int((truncated == image_id).sum()) == num_image_tokens
    assert truncated[0, -3:].tolist() == inputs["input_ids"][0, -3:].tolist()  # "? assistant :" kept
    with torch.no_grad():
        logits = model(input_ids=truncated, pixel_values=inputs["pixel_values"]).logits
    assert logits.shape[:2] == (1, max_length)


def test_llava_truncation_too_short_raises():
    """A max_length below the image token count cannot be met by dropping text, and the error names the count."""
    ids = torch.tensor([[1] + [7] * 16 + [5, 5]])
    with pytest.raises(ValueError, match="image tokens alone take 16"):
        truncate_keeping_images(ids, max_length=10, image_token_id=7)


def test_dtype_and_device_matched(clip_pair):
    """float64 pixels are cast to the model's float32, ids stay int64, and both models accept them."""
    ours, theirs = clip_pair
    inputs = {"pixel_values": torch.rand(1, 3, 64, 64, dtype=torch.float64),
              "input_ids": torch.tensor([[2, 10, 3]])}
    for model in (ours, theirs):
        matched = match_model(inputs, model)
        assert matched["pixel_values"].dtype == torch.float32
        assert matched["input_ids"].dtype == torch.int64
        with torch.no_grad():
            assert torch.isfinite(model(**matched).logits_per_image).all()


def test_float16_on_cpu_falls_back(clip_processor):
    """A float16 model on the CPU is converted to float32 with a warning, and its inputs follow."""
    torch.manual_seed(0)
    model = build_model("clip", vocab_size=len(clip_processor.tokenizer)).half().eval()
    with pytest.warns(UserWarning, match="converting the model to float32"):
        matched = match_model({"pixel_values": torch.rand(1, 3, 64, 64), "input_ids": torch.tensor([[2, 10, 3]])},
                              model)
    assert next(model.parameters()).dtype == torch.float32
    assert matched["pixel_values"].dtype == torch.float32
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.isfinite(model(**matched).logits_per_image).all()


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "PA", "I", "I;16", "F", "RGB", "RGBA", "CMYK", "YCbCr", "HSV"])
def test_every_pil_mode_becomes_rgb(mode):
    """Every common PIL mode converts to an RGB image of the same size."""
    image = Image.new("RGB", (7, 5), (200, 100, 50)).convert(mode) if mode not in ("I;16", "PA") else None
    if mode == "I;16":
        image = Image.fromarray(np.full((5, 7), 40000, dtype=np.uint16))
    if mode == "PA":
        image = Image.new("PA", (7, 5))
    rgb = to_rgb(image)
    assert rgb.mode == "RGB"
    assert rgb.size == (7, 5)


def test_float_array_in_byte_range_not_rescaled():
    """A float array with values up to 255 is read as 0-255, not multiplied by 255 again."""
    values = np.full((4, 4, 3), 200.0)
    assert np.asarray(to_rgb(values))[0, 0].tolist() == [200, 200, 200]
    assert np.asarray(to_rgb(values / 255.0))[0, 0].tolist() == [200, 200, 200]
