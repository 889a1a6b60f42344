"""Attention maps land where the object is: patch grids, rollout, cross-attention and overlays.

The location tests use a hand-built one-layer ViT whose CLS token attends to a
patch in proportion to how far its pixels are from the gray background, along
the object's color. The map of a scene with one object in a known corner must
then peak on that object, and a transposed grid would put it in the wrong corner.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import transformers
from torch import nn

from vlmbook.attention import set_fast_attention
from vlmbook.clip import CLIP
from vlmbook.shapesworld import ShapesWorld
from vlmbook.vision import VisionTransformer, ViTConfig
from vlmbook.viz import (
    answer_cross_attention,
    attention_rollout,
    caption_cross_attention,
    cls_attention_maps,
    llava_image_attention,
    overlay,
    plot_attention_heads,
    to_patch_grid,
    upsample,
    vision_attentions,
)

GRID = (8, 8)  # 64 x 64 ShapesWorld images, 8 x 8 patches


def object_detector_vit(object_color: np.ndarray, background: np.ndarray) -> VisionTransformer:
    """A ViT whose CLS attention score for a patch is the patch's contrast along (object - background)."""
    config = ViTConfig(image_size=64, patch_size=8, width=8, num_layers=1, num_heads=1, mlp_dim=8, pre_norm=False,
                       patch_bias=True, act="gelu")
    model = VisionTransformer(config).eval()
    direction = torch.tensor(object_color - background, dtype=torch.float32)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        # Feature 0 of a patch: sum over its pixels of direction . (pixel - background).
        model.patch_embed.proj.weight[0] = direction[:, None, None].expand(3, 8, 8)
        model.patch_embed.proj.bias[0] = -(direction @ torch.tensor(background, dtype=torch.float32)) * 64
        model.cls_token[1] = 1.0
        model.blocks[0].norm1 = nn.Identity()
        model.blocks[0].attn.q_proj.weight[0, 1] = 1.0  # the CLS query looks for feature 0
        model.blocks[0].attn.k_proj.weight[0, 0] = 1.0
    return model


def corner_scene(position: tuple[int, int]):
    world = ShapesWorld(split="test", image_size=64)
    scene = world.place([("square", "red", "small", position)])
    pixels = torch.tensor(np.asarray(scene.image)).permute(2, 0, 1).float()[None] / 255
    return scene, pixels


def object_patch(scene) -> tuple[int, int]:
    """Return the (row, column) of the patch that contains most pixels of the scene's only object."""
    counts = scene.masks[0].reshape(8, 8, 8, 8).sum(axis=(1, 3))  # (grid rows, grid cols)
    return divmod(int(counts.argmax()), 8)


@pytest.mark.parametrize("position, quadrant", [((52, 12), "top right"), ((12, 52), "bottom left")])
def test_cls_map_peaks_on_object(position, quadrant):
    """The CLS map of a one-object scene peaks on the object's patch: row from y, column from x."""
    scene, pixels = corner_scene(position)
    image = np.asarray(scene.image) / 255
    background = image[32, 32]  # the center is empty: the object sits in a corner
    model = object_detector_vit(image[position[1], position[0]], background)
    maps = cls_attention_maps(vision_attentions(model, pixels), GRID)  # (B, L, H, gh, gw)
    assert maps.shape == (1, 1, 1, 8, 8)
    peak = divmod(int(maps[0, 0, 0].argmax()), 8)
    expected = object_patch(scene)
    assert peak == expected, f"peak at (row, col) {peak}, object mostly in {expected} ({quadrant})"
    in_top_half, in_right_half = peak[0] < 4, peak[1] >= 4
    assert (in_top_half, in_right_half) == ((True, True) if quadrant == "top right" else (False, False))


def test_rollout_peaks_on_object():
    """Attention rollout of the same model peaks on the object's patch too."""
    scene, pixels = corner_scene((52, 12))
    image = np.asarray(scene.image) / 255
    model = object_detector_vit(image[12, 52], image[32, 32])
    rollout = attention_rollout(vision_attentions(model, pixels), GRID)  # (B, gh, gw)
    assert divmod(int(rollout[0].argmax()), 8) == object_patch(scene)


def test_rollout_rows_are_distributions():
    """With the identity added and rows renormalized, the rolled-out CLS row still sums to 1."""
    torch.manual_seed(0)
    attentions = [torch.rand(2, 3, 5, 5).softmax(dim=-1) for _ in range(4)]
    rollout = attention_rollout(attentions, (2, 2))
    cls_to_cls = attention_rollout(attentions, (1, 5), num_prefix_tokens=0)[:, 0, 0]
    total = rollout.sum(dim=(1, 2)) + cls_to_cls
    assert torch.allclose(total, torch.ones(2), atol=1e-6), f"CLS row sums to {total.tolist()}"


def test_patch_grid_row_major():
    """Tokens fill the grid row by row, height x width, after the prefix tokens are dropped."""
    values = torch.arange(1 + 6)  # CLS, then patches 1..6 of a 2-row, 3-column grid
    assert to_patch_grid(values, (2, 3)).tolist() == [[1, 2, 3], [4, 5, 6]]


def test_patch_grid_drops_registers_and_newlines():
    """Register tokens in front and an image-newline token after each row are dropped."""
    values = torch.tensor([-1, -2, -3, 1, 2, 3, 99, 4, 5, 6, 99])  # CLS + 2 registers, rows ending in newline
    grid = to_patch_grid(values, (2, 3), num_prefix_tokens=3, row_newline=True)
    assert grid.tolist() == [[1, 2, 3], [4, 5, 6]]


def test_patch_grid_wrong_count_raises():
    """A token count that does not fill the grid names the counts."""
    with pytest.raises(ValueError, match="do not fill a 3 x 3 grid"):
        to_patch_grid(torch.zeros(1 + 8), (3, 3))


def test_overlay_draws_image_and_map():
    """The overlay shows the image and the upsampled map, hottest where the object is."""
    import matplotlib

    matplotlib.use("Agg")
    scene, pixels = corner_scene((52, 12))
    image = np.asarray(scene.image) / 255
    model = object_detector_vit(image[12, 52], image[32, 32])
    heatmap = cls_attention_maps(vision_attentions(model, pixels), GRID)[0, 0, 0]
    ax = overlay(scene.image, heatmap, title="CLS attention")
    assert len(ax.get_images()) == 2
    stretched = upsample(heatmap, (64, 64))
    row, col = np.unravel_index(stretched.argmax(), stretched.shape)
    expected_row, expected_col = object_patch(scene)
    assert (row // 8, col // 8) == (expected_row, expected_col), f"hottest pixel at ({row}, {col})"
    assert stretched.min() == 0.0
    assert stretched.max() == 1.0


def tiny_clip_folder(path):
    torch.manual_seed(0)
    config = transformers.CLIPConfig(
        text_config=dict(vocab_size=99, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=4, max_position_embeddings=16, eos_token_id=98),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4),
        projection_dim=16,
    )
    transformers.CLIPModel(config).save_pretrained(path)
    return path


def test_sdpa_transformers_model_switches_to_eager(tmp_path):
    """A transformers model on SDPA gets eager attention for the call, with a warning, then SDPA again."""
    folder = tiny_clip_folder(tmp_path)
    sdpa_model = transformers.CLIPModel.from_pretrained(folder).eval()
    eager_model = transformers.CLIPModel.from_pretrained(folder, attn_implementation="eager").eval()
    pixel_values = torch.rand(1, 3, 32, 32)
    assert sdpa_model.config._attn_implementation == "sdpa"
    with pytest.warns(UserWarning, match="switching to 'eager'"):
        maps = vision_attentions(sdpa_model, pixel_values)
    expected = vision_attentions(eager_model, pixel_values)
    ours = vision_attentions(CLIP.from_pretrained(folder), pixel_values)
    assert len(maps) == 2
    assert sdpa_model.config._attn_implementation == "sdpa"
    for layer in range(2):
        assert torch.allclose(maps[layer], expected[layer], atol=1e-6)
        assert torch.allclose(ours[layer], expected[layer], atol=1e-6)


def test_fast_scratch_model_switches_to_manual(tmp_path):
    """A vlmbook model on the fused path gets the manual path for the call, with a warning, then fused again."""
    model = set_fast_attention(CLIP.from_pretrained(tiny_clip_folder(tmp_path)), True)
    with pytest.warns(UserWarning, match="fused attention path"):
        maps = vision_attentions(model, torch.rand(1, 3, 32, 32))
    assert all(m is not None for m in maps)
    assert model.vision.blocks[0].attn.fast


def test_caption_cross_attention_matches_transformers(tmp_path):
    """Caption-word-to-patch maps of the vlmbook captioner equal those of transformers' BLIP."""
    from vlmbook.blip import BlipForCaptioning

    torch.manual_seed(0)
    config = transformers.BlipConfig(
        text_config=dict(vocab_size=99, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, encoder_hidden_size=32, bos_token_id=97),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                           num_attention_heads=4),
    )
    transformers.BlipForConditionalGeneration(config).save_pretrained(tmp_path)
    reference = transformers.BlipForConditionalGeneration.from_pretrained(tmp_path).eval()
    ours = BlipForCaptioning.from_pretrained(tmp_path)
    pixel_values, input_ids = torch.rand(1, 3, 32, 32), torch.tensor([[97, 10, 11, 12]])
    mine = caption_cross_attention(ours, pixel_values, input_ids)
    theirs = caption_cross_attention(reference, pixel_values, input_ids)
    assert mine.shape == (1, 4, 4, 4)
    assert torch.allclose(mine, theirs, atol=1e-6)
    # Without the CLS column, each word's weights over the patches sum to at most 1.
    assert torch.all(mine.sum(dim=(2, 3)) <= 1 + 1e-6)


@pytest.mark.parametrize("strategy", ["default", "full"])
def test_llava_image_attention_matches_transformers(tmp_path, strategy):
    """Prompt-to-patch maps of the vlmbook LLaVA equal those of transformers' LLaVA run on SDPA, CLS kept or not."""
    from vlmbook.llava import Llava

    torch.manual_seed(0)
    vision = transformers.CLIPVisionConfig(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64,
                                           num_hidden_layers=2, num_attention_heads=4)
    text = transformers.LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                    num_attention_heads=4, num_key_value_heads=2)
    config = transformers.LlavaConfig(vision_config=vision, text_config=text, image_token_id=99,
                                      vision_feature_select_strategy=strategy)
    transformers.LlavaForConditionalGeneration(config).save_pretrained(tmp_path)
    reference = transformers.LlavaForConditionalGeneration.from_pretrained(tmp_path).eval()
    image_tokens = 16 + int(strategy == "full")
    input_ids = torch.cat([torch.tensor([[1, 5, 6]]), torch.full((1, image_tokens), 99), torch.tensor([[7, 8]])], dim=1)
    pixel_values = torch.rand(1, 3, 32, 32)
    mine = llava_image_attention(Llava.from_pretrained(tmp_path), input_ids, pixel_values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = llava_image_attention(reference, input_ids, pixel_values)
    assert mine.shape == (1, 5 + image_tokens, 4, 4)
    assert torch.allclose(mine, theirs, atol=1e-6)


def test_answer_cross_attention_matches_transformers(tmp_path):
    """Answer-token-to-patch maps of the vlmbook VQA model equal those of transformers' BLIP VQA."""
    from vlmbook.blip import BlipForQuestionAnswering

    torch.manual_seed(0)
    config = transformers.BlipConfig(
        text_config=dict(vocab_size=99, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, encoder_hidden_size=32, bos_token_id=97),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                           num_attention_heads=4),
    )
    transformers.BlipForQuestionAnswering(config).save_pretrained(tmp_path)
    reference = transformers.BlipForQuestionAnswering.from_pretrained(tmp_path).eval()
    ours = BlipForQuestionAnswering.from_pretrained(tmp_path)
    input_ids, answer_ids = torch.tensor([[2, 10, 11, 12, 3]]), torch.tensor([[97, 20, 3]])
    pixel_values = torch.rand(1, 3, 32, 32)
    mine = answer_cross_attention(ours, input_ids, pixel_values, answer_ids)
    theirs = answer_cross_attention(reference, input_ids, pixel_values, answer_ids)
    assert mine.shape == (1, 3, 4, 4)
    assert torch.allclose(mine, theirs, atol=1e-6)
    # Chained distributions without the CLS column sum to at most 1 per generated token.
    assert torch.all(mine.sum(dim=(2, 3)) <= 1 + 1e-6)


def test_llava_vision_attentions_match_transformers(tmp_path):
    """CLS maps from transformers' LLaVA vision tower (run on SDPA) equal those of vlmbook's LLaVA."""
    from vlmbook.llava import Llava

    torch.manual_seed(0)
    vision = transformers.CLIPVisionConfig(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64,
                                           num_hidden_layers=2, num_attention_heads=4)
    text = transformers.LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                    num_attention_heads=4)
    transformers.LlavaForConditionalGeneration(
        transformers.LlavaConfig(vision_config=vision, text_config=text, image_token_id=99)
    ).save_pretrained(tmp_path)
    reference = transformers.LlavaForConditionalGeneration.from_pretrained(tmp_path).eval()
    pixel_values = torch.rand(1, 3, 32, 32)
    with pytest.warns(UserWarning, match="switching to 'eager'"):
        theirs = cls_attention_maps(vision_attentions(reference, pixel_values), (4, 4))
    mine = cls_attention_maps(vision_attentions(Llava.from_pretrained(tmp_path), pixel_values), (4, 4))
    assert mine.shape == (1, 2, 4, 4, 4)
    assert torch.allclose(mine, theirs, atol=1e-6)


def test_viz_casts_float64_pixels():
    """float64 pixels from numpy reach a float32 model as float32 and give the same maps."""
    scene, pixels = corner_scene((52, 12))
    image = np.asarray(scene.image) / 255
    model = object_detector_vit(image[12, 52], image[32, 32])
    single = cls_attention_maps(vision_attentions(model, pixels), GRID)
    double = cls_attention_maps(vision_attentions(model, pixels.double()), GRID)
    assert double.dtype == torch.float32
    assert torch.equal(single, double)


def test_overlay_accepts_channels_first_array():
    """overlay reads the image through to_rgb, so a (3, H, W) float array works."""
    import matplotlib

    matplotlib.use("Agg")
    ax = overlay(np.random.default_rng(0).random((3, 16, 16)), torch.rand(2, 2))
    assert ax.get_images()[0].get_array().shape == (16, 16, 3)


def test_plot_attention_heads_grid(tmp_path):
    """One overlay per layer and head, titled by layer and head; the figure saves as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    folder = tiny_clip_folder(tmp_path / "clip")
    pixel_values = torch.rand(1, 3, 32, 32)
    maps = cls_attention_maps(vision_attentions(CLIP.from_pretrained(folder), pixel_values), (4, 4))[0]
    figure = plot_attention_heads(pixel_values[0], maps)
    assert len(figure.axes) == 2 * 4
    assert figure.axes[5].get_title() == "L1 H1"
    figure.savefig(tmp_path / "heads.png")
    assert (tmp_path / "heads.png").stat().st_size > 0
