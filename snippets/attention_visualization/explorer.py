"""Generator: the data and markup of the interactive attention explorer.

The book's output API writes figures and Markdown only, so this generator
returns a Markdown block of raw HTML: the explorer's controls and a
``<script type="application/json">`` element with the precomputed weights.
``docs/javascripts/attention-explorer.js`` reads that element and draws the maps.

Data, for one ShapesWorld scene:
    vision  (L, H, N, N)  CLIP vision self-attention, N = 1 CLS + gh * gw patches
    cross   (L, H, W, gh * gw)  BLIP decoder cross-attention that wrote each caption word,
                                on CLIP's patch grid
"""

import base64
import html
import io
import json

import torch
import torch.nn.functional as F
from transformers import BlipForConditionalGeneration, BlipProcessor, CLIPModel, CLIPProcessor

import vlmbook
from vlmbook.book import markdown
from vlmbook.shapesworld import ShapesWorld
from vlmbook.viz import vision_attentions

scene = ShapesWorld("test", min_objects=2, max_objects=2, seed=0)[3]

# CLIP: every layer's and head's self-attention over the vision tokens.
clip_folder = vlmbook.checkpoint("clip")
clip = CLIPModel.from_pretrained(clip_folder, attn_implementation="eager").eval()
clip_pixels = CLIPProcessor.from_pretrained(clip_folder)(images=scene.image, return_tensors="pt").pixel_values
vision = torch.stack(vision_attentions(clip, clip_pixels))[:, 0]  # (L, H, N, N)
vision_config = clip.config.vision_config
grid = vision_config.image_size // vision_config.patch_size

# BLIP: every layer's and head's cross-attention from the canonical caption to the patches.
blip_folder = vlmbook.checkpoint("blip-captioning")
blip = BlipForConditionalGeneration.from_pretrained(blip_folder, attn_implementation="eager").eval()
blip_processor = BlipProcessor.from_pretrained(blip_folder)
inputs = blip_processor(images=scene.image, text=scene.captions[0], return_tensors="pt")
input_ids = inputs.input_ids.clone()
input_ids[:, 0] = blip.config.text_config.bos_token_id  # the decoder starts from [DEC]
with torch.no_grad():
    image_embeds = blip.vision_model(pixel_values=inputs.pixel_values).last_hidden_state
    decoded = blip.text_decoder(input_ids=input_ids, encoder_hidden_states=image_embeds, output_attentions=True)
cross = torch.stack(decoded.cross_attentions)[:, 0]  # (L, H, T, 1 + gh_blip * gw_blip)
cross = cross[:, :, :-2, 1:]  # the position before each word wrote it; drop the CLS column
words = blip_processor.tokenizer.convert_ids_to_tokens(input_ids[0])[1:-1]

# The explorer draws one grid. The embedded CLIP and BLIP share 8 x 8 patches; the public
# checkpoints do not (7 x 7 and 24 x 24), so BLIP's maps are resampled onto CLIP's grid.
blip_grid = blip.config.vision_config.image_size // blip.config.vision_config.patch_size
if blip_grid != grid:
    layers, heads, num_words, _ = cross.shape
    folded = cross.reshape(layers * heads * num_words, 1, blip_grid, blip_grid)
    resampled = F.interpolate(folded, size=(grid, grid), mode="area")  # mean over each covered area
    cross = resampled.reshape(layers, heads, num_words, grid * grid)

LABELS = {
    "ko": {"layer": "층", "head": "헤드", "mean": "헤드 평균", "image": "이미지 패치 격자: 방향키로 패치를 고릅니다",
           "words": "캡션 단어", "cls": "CLS 토큰", "patch": "패치 (행 {row}, 열 {column})가 보는 곳",
           "cls_status": "CLS 토큰이 보는 곳", "word": "단어 '{word}'를 쓸 때 본 곳",
           "vision_source": "CLIP 비전 셀프 어텐션", "cross_source": "BLIP 교차 어텐션",
           "image_alt": "탐색기의 ShapesWorld 장면. 정답 캡션: {caption}"},
    "en": {"layer": "Layer", "head": "Head", "mean": "mean of heads", "image": "Image patch grid: arrow keys choose a patch",
           "words": "Caption words", "cls": "CLS token", "patch": "Where patch (row {row}, column {column}) looks",
           "cls_status": "Where the CLS token looks", "word": "Where the decoder looked to write '{word}'",
           "vision_source": "CLIP vision self-attention", "cross_source": "BLIP cross-attention",
           "image_alt": "The explorer's ShapesWorld scene. True caption: {caption}"},
}


def image_data_uri() -> str:
    buffer = io.BytesIO()
    scene.image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def rounded(tensor: torch.Tensor) -> list:
    return torch.round(tensor * 1000).int().tolist()  # thousandths keep the file small


@markdown("attention-explorer")
def explorer(lang: str) -> str:
    labels = LABELS[lang]
    data = {"labels": labels, "image": image_data_uri(), "grid": grid, "prefix": 1, "caption": scene.captions[0],
            "words": words, "vision": rounded(vision), "cross": rounded(cross), "scale": 1000}
    # Escape "</" so that no string in the data can close the script element early.
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (
        f'<div class="attention-explorer" data-source="attention-explorer-data" lang="{lang}">'
        f'<div class="ae-controls">'
        f'<label for="ae-layer">{html.escape(labels["layer"])}</label> <select id="ae-layer"></select> '
        f'<label for="ae-head">{html.escape(labels["head"])}</label> <select id="ae-head"></select>'
        f'</div>'
        f'<div class="ae-main"><div class="ae-stage"></div><div class="ae-words" role="group" '
        f'aria-label="{html.escape(labels["words"])}"></div></div>'
        f'<p class="ae-status" aria-live="polite"></p>'
        f'</div>\n\n'
        f'<script type="application/json" id="attention-explorer-data">{payload}</script>'
    )
