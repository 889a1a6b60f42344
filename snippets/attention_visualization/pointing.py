"""Generator: a pointing game for attention maps on ShapesWorld, where every object's box is known.

A map scores a hit when its peak patch's center falls inside the box of the
object it should point at. This is the hit rule of the pointing game (Zhang et
al. 2016, arXiv 1608.00507) without its 15-pixel tolerance. Three models, three
kinds of map:

- CLIP's vision tower: CLS attention per layer and rollout, on one-object scenes;
- BLIP's caption decoder: cross-attention from a color or shape word that names
  exactly one object of a two-object scene;
- LLaVA's decoder: attention from the answering position to the image tokens,
  for color questions whose answer names exactly one object.

The page embeds the `score` and `clip` sections and shows the table.
"""

# --8<-- [start:score]
import torch


def peak_hits_box(heatmap: torch.Tensor, box: tuple, image_size: int) -> bool:
    """Return whether the center of the peak patch of a (gh, gw) map falls inside box (x0, y0, x1, y1).

    The box is in pixels of the scene image, which is ``image_size`` wide and high.
    The map covers the whole image, whatever size the model resized it to.
    """
    grid_height, grid_width = heatmap.shape
    row, column = divmod(int(heatmap.argmax()), grid_width)
    x = (column + 0.5) * image_size / grid_width  # patch center in pixels
    y = (row + 0.5) * image_size / grid_height
    x0, y0, x1, y1 = box
    return x0 <= x <= x1 and y0 <= y <= y1


def baselines(boxes: list, grid: tuple, image_size: int) -> tuple[float, float]:
    """Return the hit rates of always pointing at the image center and of a uniformly random patch."""
    center = torch.zeros(grid)
    # An even grid has no middle patch, so on 8 x 8 this is patch (4, 4), just below and right of the center.
    center[grid[0] // 2, grid[1] // 2] = 1.0
    center_rate = sum(peak_hits_box(center, box, image_size) for box in boxes) / len(boxes)
    random_rate = 0.0
    for box in boxes:
        # Expected hit rate of a random patch: the share of patch centers inside the box.
        inside = [peak_hits_box(torch.eye(grid[0] * grid[1])[i].reshape(grid), box, image_size)
                  for i in range(grid[0] * grid[1])]
        random_rate += sum(inside) / len(inside)
    return center_rate, random_rate / len(boxes)
# --8<-- [end:score]


# --8<-- [start:clip]
from transformers import CLIPModel, CLIPProcessor

import vlmbook
from vlmbook.shapesworld import ShapesWorld
from vlmbook.viz import attention_rollout, cls_attention_maps, vision_attentions

NUM_SCENES = 200
clip_folder = vlmbook.checkpoint("clip")
clip = CLIPModel.from_pretrained(clip_folder, attn_implementation="eager").eval()
clip_processor = CLIPProcessor.from_pretrained(clip_folder)
clip_vision = clip.config.vision_config
clip_grid = (clip_vision.image_size // clip_vision.patch_size,) * 2

one_object = ShapesWorld("test", min_objects=1, max_objects=1, seed=0)
scene_size = one_object[0].image.size[0]  # boxes are in pixels of this image
clip_scenes = [one_object[i] for i in range(NUM_SCENES)]
pixels = clip_processor(images=[s.image for s in clip_scenes], return_tensors="pt").pixel_values
clip_attentions = vision_attentions(clip, pixels)  # L tensors (B, H, N, N)
layer_maps = cls_attention_maps(clip_attentions, clip_grid).mean(dim=2)  # (B, L, gh, gw), mean of heads
clip_rollout = attention_rollout(clip_attentions, clip_grid)  # (B, gh, gw)

clip_boxes = [scene.objects[0].box for scene in clip_scenes]
clip_results = {f"CLS, layer {layer}": layer_maps[:, layer] for layer in range(layer_maps.shape[1])}
clip_results["rollout"] = clip_rollout
clip_scores = {name: sum(peak_hits_box(m, box, scene_size) for m, box in zip(maps, clip_boxes)) / NUM_SCENES
               for name, maps in clip_results.items()}
for name, score in clip_scores.items():
    print(f"{name:<11} {score:.1%}")
# --8<-- [end:clip]

# BLIP: cross-attention from a word that names exactly one object.
from transformers import BlipForConditionalGeneration, BlipProcessor

from vlmbook.shapesworld import COLORS, SHAPES
from vlmbook.viz import caption_cross_attention

blip_folder = vlmbook.checkpoint("blip-captioning")
blip = BlipForConditionalGeneration.from_pretrained(blip_folder, attn_implementation="eager").eval()
blip_processor = BlipProcessor.from_pretrained(blip_folder)
blip_grid = (blip.config.vision_config.image_size // blip.config.vision_config.patch_size,) * 2
two_objects = ShapesWorld("test", min_objects=2, max_objects=2, seed=0)
blip_hits, blip_boxes = [], []
for index in range(NUM_SCENES // 2):
    scene = two_objects[index]
    inputs = blip_processor(images=scene.image, text=scene.captions[0], return_tensors="pt")
    input_ids = inputs.input_ids.clone()
    input_ids[:, 0] = blip.config.text_config.bos_token_id  # the decoder starts from [DEC], not [CLS]
    maps = caption_cross_attention(blip, inputs.pixel_values, input_ids)[0]  # (T, gh, gw)
    tokens = blip_processor.tokenizer.convert_ids_to_tokens(input_ids[0])
    for position, token in enumerate(tokens):
        named = [obj for obj in scene.objects if token in (obj.color, obj.shape)]
        if position == 0 or token not in COLORS + SHAPES or len(named) != 1:
            continue
        # The decoder reads position t - 1 when it writes the word at position t.
        blip_hits.append(peak_hits_box(maps[position - 1], named[0].box, scene_size))
        blip_boxes.append(named[0].box)

# LLaVA: attention from the answering position, for color questions with a unique answer.
from transformers import AutoProcessor, LlavaForConditionalGeneration

from vlmbook.recipes.llava import chat_prompt

llava_folder = vlmbook.checkpoint("llava")
llava = LlavaForConditionalGeneration.from_pretrained(llava_folder, attn_implementation="eager").eval()
llava_processor = AutoProcessor.from_pretrained(llava_folder)
llava_config = llava.config
llava_grid = (llava_config.vision_config.image_size // llava_config.vision_config.patch_size,) * 2
llava_hits, llava_boxes = [], []
llava_layer_hits = [[] for _ in range(llava_config.text_config.num_hidden_layers)]
for index in range(NUM_SCENES // 2):
    scene = two_objects[index]
    for qa in scene.questions:
        named = [obj for obj in scene.objects if obj.color == qa.answer]
        if qa.kind != "color" or len(named) != 1:
            continue
        inputs = llava_processor(images=scene.image, text=chat_prompt(llava_processor, qa.question), return_tensors="pt")
        with torch.no_grad():
            output = llava(**inputs, output_attentions=True)  # one (1, H, T, T) per layer
        per_layer = torch.stack(output.attentions).mean(dim=2)[:, 0]  # (L, T, T), mean of heads
        to_image = per_layer[:, -1, inputs.input_ids[0] == llava_config.image_token_id]  # (L, N_img), answering row
        if llava_config.vision_feature_select_strategy == "full":
            to_image = to_image[:, 1:]  # the first image token is CLS, not a patch
        llava_hits.append(peak_hits_box(to_image.mean(dim=0).reshape(llava_grid), named[0].box, scene_size))
        for layer, layer_map in enumerate(to_image):
            llava_layer_hits[layer].append(peak_hits_box(layer_map.reshape(llava_grid), named[0].box, scene_size))
        llava_boxes.append(named[0].box)

from vlmbook.book import markdown

ROWS = {
    "ko": {"header": "| 모델 | 지도 | 가리켜야 할 물체 | 표본 | 적중률 | 중앙 기준선 | 무작위 패치 기준선 |",
           "clip_target": "도형이 하나인 장면의 그 도형", "blip_target": "색·모양 단어가 유일하게 가리키는 물체",
           "llava_target": "색 질문의 답이 가리키는 물체", "blip_map": "단어 → 패치 교차 어텐션 (층·헤드 평균)",
           "llava_map": "답 위치 → 이미지 토큰 (층·헤드 평균)", "rollout": "어텐션 롤아웃",
           "layer": "CLS 어텐션, 층 {layer} (헤드 평균)", "llava_layer": "답 위치 → 이미지 토큰, 층 {layer} (헤드 평균)"},
    "en": {"header": "| model | map | object it should point at | samples | hit rate | center baseline | random patch baseline |",
           "clip_target": "the only shape of a one-object scene", "blip_target": "the object a color or shape word names uniquely",
           "llava_target": "the object a color question's answer names", "blip_map": "word → patch cross-attention (mean of layers and heads)",
           "llava_map": "answering position → image tokens (mean of layers and heads)", "rollout": "attention rollout",
           "layer": "CLS attention, layer {layer} (mean of heads)",
           "llava_layer": "answering position → image tokens, layer {layer} (mean of heads)"},
}


@markdown("attention-pointing-table")
def pointing_table(lang: str) -> str:
    words = ROWS[lang]
    clip_center, clip_random = baselines(clip_boxes, clip_grid, scene_size)
    rows = []
    for name, score in clip_scores.items():
        label = words["rollout"] if name == "rollout" else words["layer"].format(layer=name.split()[-1])
        rows.append(("CLIP", label, words["clip_target"], NUM_SCENES, score, clip_center, clip_random))
    for model_name, label, target, hits, boxes, grid in [
        ("BLIP", words["blip_map"], words["blip_target"], blip_hits, blip_boxes, blip_grid),
        ("LLaVA", words["llava_map"], words["llava_target"], llava_hits, llava_boxes, llava_grid),
    ]:
        center, random_patch = baselines(boxes, grid, scene_size)
        rows.append((model_name, label, target, len(hits), sum(hits) / len(hits), center, random_patch))
    llava_center, llava_random = baselines(llava_boxes, llava_grid, scene_size)
    for layer, hits in enumerate(llava_layer_hits):
        label = words["llava_layer"].format(layer=layer)
        rows.append(("LLaVA", label, words["llava_target"], len(hits), sum(hits) / len(hits), llava_center, llava_random))
    lines = [words["header"], "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {m} | {label} | {target} | {n} | {score:.1%} | {center:.1%} | {rand:.1%} |"
              for m, label, target, n, score, center, rand in rows]
    return "\n".join(lines)


@markdown("attention-pointing-rollout")
def pointing_rollout(lang: str) -> str:
    return f"{clip_scores['rollout']:.1%}"
