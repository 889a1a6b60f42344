"""Parity of the from-scratch models with transformers on the architectures vlmbook ships.

Two sources per checkpoint name: the freshly initialized model of the exact
shipped configuration (``vlmbook.hf.configs.build_model``), and, once it has
been trained, the embedded checkpoint itself (``vlmbook.checkpoint(name)``).
A missing embedded checkpoint is skipped with the reason shown.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import transformers

from vlmbook.blip import BlipForCaptioning, BlipForImageTextMatching, BlipForQuestionAnswering
from vlmbook.clip import CLIP
from vlmbook.hf.configs import MODEL_CLASSES, build_model, special_id
from vlmbook.hf.tokenizer import BOS, CLS, IMAGE, SEP, SPECIAL_TOKENS
from vlmbook.llava import Llava
from vlmbook.viz import vision_attentions

NAMES = ("clip", "blip-itm", "blip-captioning", "blip-vqa", "llava")
TOLERANCE = 1e-5
WORDS = len(SPECIAL_TOKENS)  # ids below this are special tokens


def max_gap(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return (ours - theirs).abs().max().item()


def embedded_folder(name: str) -> Path:
    import vlmbook

    folder = Path(vlmbook.checkpoint(name))
    if not (folder / "config.json").is_file():
        pytest.skip(f"embedded checkpoint {name!r} is not in {folder} yet; train it with `vlmbook train {name}`")
    return folder


@pytest.fixture(scope="module", params=[(name, source) for name in NAMES for source in ("shipped-config", "embedded")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def folder_and_name(request, tmp_path_factory):
    name, source = request.param
    if source == "embedded":
        return embedded_folder(name), name
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp(name)
    build_model(name, vocab_size=48).save_pretrained(folder)
    return folder, name


def bert_text(config: dict, batch: int, length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[CLS] words [SEP] [PAD]..., rows of different lengths."""
    vocab = config["text_config"]["vocab_size"]
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(WORDS, vocab, (batch, length), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    input_ids[:, 0] = special_id(CLS)
    for row in range(batch):
        end = length - 1 - row
        input_ids[row, end] = special_id(SEP)
        input_ids[row, end + 1 :] = special_id("[PAD]")
        attention_mask[row, end + 1 :] = 0
    return input_ids, attention_mask


def pixels(config: dict, batch: int) -> torch.Tensor:
    size = config["vision_config"]["image_size"]
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(3)) * 2 - 1


def test_embedded_parity(folder_and_name):
    """Outputs equal transformers' within 1e-5 and greedy generations are the same ids."""
    folder, name = folder_and_name
    config = json.loads((folder / "config.json").read_text())
    reference = MODEL_CLASSES[name].from_pretrained(folder, attn_implementation="eager").eval()
    gaps = {}
    with torch.no_grad():
        if name == "clip":
            input_ids, attention_mask = bert_text(config, 3, 8, seed=1)
            inputs = dict(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixels(config, 2))
            gaps["logits_per_image"] = max_gap(CLIP.from_pretrained(folder)(**inputs).logits_per_image,
                                               reference(**inputs).logits_per_image)
        elif name == "blip-itm":
            model = BlipForImageTextMatching.from_pretrained(folder)
            input_ids, attention_mask = bert_text(config, 2, 8, seed=2)
            inputs = dict(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixels(config, 2))
            gaps["itm"] = max_gap(model(**inputs)[0], reference(**inputs).itm_score)
            gaps["itc"] = max_gap(model.contrastive_scores(**inputs), reference(**inputs, use_itm_head=False).itm_score)
        elif name == "blip-captioning":
            model = BlipForCaptioning.from_pretrained(folder)
            pixel_values = pixels(config, 2)
            mine = model.generate(pixel_values, max_new_tokens=12)
            theirs = reference.generate(pixel_values=pixel_values, max_new_tokens=12, do_sample=False, num_beams=1)
            assert mine.tolist() == theirs.tolist(), f"captions differ:\nours   {mine.tolist()}\ntheirs {theirs.tolist()}"
            gaps["logits"] = max_gap(model(pixel_values, mine)[0], reference(pixel_values=pixel_values, input_ids=mine).logits)
        elif name == "blip-vqa":
            model = BlipForQuestionAnswering.from_pretrained(folder)
            input_ids, attention_mask = bert_text(config, 2, 8, seed=4)
            pixel_values = pixels(config, 2)
            mine = model.generate(input_ids, pixel_values, attention_mask, max_new_tokens=6)
            theirs = reference.generate(input_ids=input_ids, pixel_values=pixel_values, attention_mask=attention_mask,
                                        max_new_tokens=6, do_sample=False, num_beams=1)
            assert mine.tolist() == theirs.tolist(), f"answers differ:\nours   {mine.tolist()}\ntheirs {theirs.tolist()}"
            image_embeds = reference.vision_model(pixel_values=pixel_values).last_hidden_state
            question = reference.text_encoder(input_ids=input_ids, attention_mask=attention_mask,
                                              encoder_hidden_states=image_embeds).last_hidden_state
            gaps["question"] = max_gap(model.encode_question(input_ids, pixel_values, attention_mask).hidden_states,
                                       question)
        else:
            model = Llava.from_pretrained(folder)
            vocab = config["text_config"]["vocab_size"]
            words = torch.randint(WORDS, vocab, (2, 10), generator=torch.Generator().manual_seed(5))
            image_tokens = torch.full((2, model.num_image_tokens), special_id(IMAGE))
            input_ids = torch.cat([torch.full((2, 1), special_id(BOS)), words[:, :3], image_tokens, words[:, 3:]], 1)
            pixel_values = pixels(config, 2)
            gaps["logits"] = max_gap(model(input_ids, pixel_values).logits,
                                     reference(input_ids=input_ids, pixel_values=pixel_values).logits)
            mine = model.generate(input_ids, pixel_values, max_new_tokens=12)
            theirs = reference.generate(input_ids=input_ids, pixel_values=pixel_values, max_new_tokens=12,
                                        do_sample=False, num_beams=1)
            assert mine.tolist() == theirs.tolist(), f"generations differ:\nours   {mine.tolist()}\ntheirs {theirs.tolist()}"
    for output_name, gap in gaps.items():
        assert gap < TOLERANCE, f"{name} {output_name}: max abs diff {gap:.2e}"


def test_embedded_vision_attention_parity(folder_and_name):
    """Every vision layer's attention weights equal those of transformers' eager attention within 1e-6."""
    folder, name = folder_and_name
    config = json.loads((folder / "config.json").read_text())
    reference = MODEL_CLASSES[name].from_pretrained(folder, attn_implementation="eager").eval()
    ours = {"clip": CLIP, "blip-itm": BlipForImageTextMatching, "blip-captioning": BlipForCaptioning,
            "blip-vqa": BlipForQuestionAnswering, "llava": Llava}[name].from_pretrained(folder)
    pixel_values = pixels(config, 2)
    mine, theirs = vision_attentions(ours, pixel_values), vision_attentions(reference, pixel_values)
    assert len(mine) == len(theirs) == config["vision_config"]["num_hidden_layers"]
    for layer, (a, b) in enumerate(zip(mine, theirs)):
        gap = max_gap(a, b)
        assert gap < 1e-6, f"{name} vision layer {layer}: max abs diff {gap:.2e}"


@pytest.mark.parametrize("name", ["clip", "blip-itm", "blip-vqa", "llava", "blip-captioning"])
def test_embedded_real_scenes(name):
    """On ShapesWorld test scenes prepared by the checkpoint's own processor, outputs match within 1e-5."""
    from transformers import AutoProcessor

    from vlmbook.shapesworld import ShapesWorld

    folder = embedded_folder(name)
    processor = AutoProcessor.from_pretrained(folder)
    reference = MODEL_CLASSES[name].from_pretrained(folder, attn_implementation="eager").eval()
    scenes = [ShapesWorld("test", seed=0)[i] for i in range(16)]
    with torch.no_grad():
        if name == "clip":
            inputs = processor(text=[s.captions[0] for s in scenes], images=[s.image for s in scenes],
                               return_tensors="pt", padding=True)
            mine = CLIP.from_pretrained(folder)(inputs.input_ids, inputs.pixel_values, inputs.attention_mask)
            gap = max_gap(mine.logits_per_image, reference(**inputs).logits_per_image)
        elif name == "blip-itm":
            inputs = processor(text=[s.captions[0] for s in scenes], images=[s.image for s in scenes],
                               return_tensors="pt", padding=True)
            model = BlipForImageTextMatching.from_pretrained(folder)
            mine, _ = model(inputs.input_ids, inputs.pixel_values, inputs.attention_mask)
            gap = max_gap(mine, reference(**inputs).itm_score)
        elif name == "blip-vqa":
            inputs = processor(images=[s.image for s in scenes], text=[s.questions[0].question for s in scenes],
                               return_tensors="pt", padding=True)
            model = BlipForQuestionAnswering.from_pretrained(folder)
            mine_ids = model.generate(inputs.input_ids, inputs.pixel_values, inputs.attention_mask, max_new_tokens=4)
            their_ids = reference.generate(**inputs, max_new_tokens=4, do_sample=False)
            assert mine_ids.tolist() == their_ids.tolist()
            question = model.encode_question(inputs.input_ids, inputs.pixel_values, inputs.attention_mask)
            mine, _ = model.text_decoder(mine_ids, question.hidden_states)
            image_embeds = reference.vision_model(pixel_values=inputs.pixel_values).last_hidden_state
            their_question = reference.text_encoder(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask,
                                                    encoder_hidden_states=image_embeds).last_hidden_state
            # use_cache=False: with its default use_cache=True, transformers' decoder
            # differs from its own uncached pass by about 4e-6 on these logits.
            theirs = reference.text_decoder(input_ids=mine_ids, encoder_hidden_states=their_question,
                                            use_cache=False).logits
            gap = max_gap(mine, theirs)
        elif name == "llava":
            from vlmbook.recipes.llava import chat_prompt

            model = Llava.from_pretrained(folder)
            gap = 0.0
            for scene in scenes[:4]:
                inputs = processor(images=scene.image, text=chat_prompt(processor, scene.questions[0].question),
                                   return_tensors="pt")
                gap = max(gap, max_gap(model(inputs.input_ids, inputs.pixel_values).logits, reference(**inputs).logits))
                mine_ids = model.generate(inputs.input_ids, inputs.pixel_values, max_new_tokens=4)
                their_ids = reference.generate(**inputs, max_new_tokens=4, do_sample=False)
                assert mine_ids.tolist() == their_ids.tolist(), scene.questions[0].question
        else:
            model = BlipForCaptioning.from_pretrained(folder)
            pixel_values = processor(images=[s.image for s in scenes], return_tensors="pt").pixel_values
            mine_ids = model.generate(pixel_values, max_new_tokens=12)
            their_ids = reference.generate(pixel_values=pixel_values, max_new_tokens=12, do_sample=False)
            assert mine_ids.tolist() == their_ids.tolist()
            gap = max_gap(model(pixel_values, mine_ids)[0], reference(pixel_values=pixel_values, input_ids=mine_ids).logits)
    assert gap < TOLERANCE, f"{name}: max abs diff {gap:.2e}"
