"""Parity of the from-scratch BLIP heads (vlmbook.blip) with transformers' BLIP models.

Tiny random ``BlipForImageTextRetrieval``, ``BlipForConditionalGeneration`` and
``BlipForQuestionAnswering`` models are saved with ``save_pretrained`` and loaded
back through our ``from_pretrained``. Hugging Face's BLIP text model computes
attention by hand, so its weights are the eager reference without any switch.
"""

from __future__ import annotations

import pytest
import torch
import transformers

from vlmbook.attention import set_fast_attention
from vlmbook.blip import BlipForCaptioning, BlipForImageTextMatching, BlipForQuestionAnswering

TOLERANCE = 1e-5
BOS, SEP, PAD = 97, 3, 0


def max_gap(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return (ours - theirs).abs().max().item()


def tiny_blip_config(vision_width: int = 48) -> transformers.BlipConfig:
    """A two-layer BLIP; the VQA decoder reads text-width features, so VQA needs vision_width equal to 32."""
    text = dict(
        vocab_size=99,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=40,
        encoder_hidden_size=vision_width,
        bos_token_id=BOS,
        pad_token_id=PAD,
        sep_token_id=SEP,
        eos_token_id=SEP,
    )
    vision = dict(image_size=32, patch_size=8, hidden_size=vision_width, intermediate_size=96, num_hidden_layers=2,
                  num_attention_heads=4)
    return transformers.BlipConfig(text_config=text, vision_config=vision, image_text_hidden_size=16)


def save_tiny(hf_class, path, seed: int = 0, vision_width: int = 48):
    torch.manual_seed(seed)
    model = hf_class(tiny_blip_config(vision_width)).eval()
    # Random LayerNorm weights make the parity test sensitive to a swapped norm.
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.normal_(1.0, 0.2)
                module.bias.normal_(0.0, 0.2)
    model.save_pretrained(path)
    return hf_class.from_pretrained(path).eval()


def make_text(batch: int, length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[CLS]-like start, random words, [SEP], then right padding of different lengths."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, 90, (batch, length), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    for row in range(batch):
        end = length - 1 - (row % 3)
        input_ids[row, end] = SEP
        input_ids[row, end + 1 :] = PAD
        attention_mask[row, end + 1 :] = 0
    return input_ids, attention_mask


def images(batch: int, seed: int = 5) -> torch.Tensor:
    return torch.rand(batch, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def itm_pair(tmp_path_factory):
    path = tmp_path_factory.mktemp("blip_itm")
    reference = save_tiny(transformers.BlipForImageTextRetrieval, path)
    return BlipForImageTextMatching.from_pretrained(path), reference


@pytest.fixture(scope="module")
def caption_pair(tmp_path_factory):
    path = tmp_path_factory.mktemp("blip_caption")
    reference = save_tiny(transformers.BlipForConditionalGeneration, path, seed=1)
    return BlipForCaptioning.from_pretrained(path), reference


@pytest.fixture(scope="module")
def vqa_pair(tmp_path_factory):
    path = tmp_path_factory.mktemp("blip_vqa")
    reference = save_tiny(transformers.BlipForQuestionAnswering, path, seed=2, vision_width=32)
    return BlipForQuestionAnswering.from_pretrained(path), reference


def test_blip_image_embeds_match(itm_pair):
    """Image tokens after BLIP's final LayerNorm equal transformers' last_hidden_state within 1e-5."""
    ours, reference = itm_pair
    pixel_values = images(2)
    with torch.no_grad():
        mine, vision_out = ours.encode_image(pixel_values, output_attentions=True)
        theirs = reference.vision_model(pixel_values, output_attentions=True)
    gap = max_gap(mine, theirs.last_hidden_state)
    assert gap < TOLERANCE, f"image embeds: max abs diff {gap:.2e}"
    for layer, (a, b) in enumerate(zip(vision_out.attentions, theirs.attentions)):
        gap = max_gap(a, b)
        assert gap < 1e-6, f"vision layer {layer} attention: max abs diff {gap:.2e}"


def test_blip_itm_logits_match(itm_pair):
    """ITM logits of padded texts equal transformers' use_itm_head=True output within 1e-5."""
    ours, reference = itm_pair
    input_ids, attention_mask = make_text(3, 9, seed=1)
    pixel_values = images(3)
    with torch.no_grad():
        mine, _ = ours(input_ids, pixel_values, attention_mask)
        theirs = reference(input_ids=input_ids, pixel_values=pixel_values, attention_mask=attention_mask).itm_score
    gap = max_gap(mine, theirs)
    assert gap < TOLERANCE, f"ITM logits: max abs diff {gap:.2e}"


def test_blip_itc_scores_match(itm_pair):
    """Contrastive cosine scores equal transformers' use_itm_head=False output within 1e-5."""
    ours, reference = itm_pair
    input_ids, attention_mask = make_text(3, 9, seed=2)
    pixel_values = images(3)
    with torch.no_grad():
        mine = ours.contrastive_scores(input_ids, pixel_values, attention_mask)
        theirs = reference(
            input_ids=input_ids, pixel_values=pixel_values, attention_mask=attention_mask, use_itm_head=False
        ).itm_score
    gap = max_gap(mine, theirs)
    assert gap < TOLERANCE, f"ITC scores: max abs diff {gap:.2e}"


def test_blip_itm_attentions_match(itm_pair):
    """Self- and cross-attention weights of the image-grounded text encoder equal transformers'."""
    ours, reference = itm_pair
    input_ids, attention_mask = make_text(2, 8, seed=3)
    pixel_values = images(2)
    with torch.no_grad():
        _, text_out = ours(input_ids, pixel_values, attention_mask, output_attentions=True)
        image_embeds = reference.vision_model(pixel_values).last_hidden_state
        theirs = reference.text_encoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            encoder_hidden_states=image_embeds,
            encoder_attention_mask=torch.ones(image_embeds.shape[:-1], dtype=torch.long),
            output_attentions=True,
        )
    for layer in range(len(theirs.attentions)):
        gap = max_gap(text_out.self_attentions[layer], theirs.attentions[layer])
        assert gap < 1e-6, f"self-attention layer {layer}: max abs diff {gap:.2e}"
        gap = max_gap(text_out.cross_attentions[layer], theirs.cross_attentions[layer])
        assert gap < 1e-6, f"cross-attention layer {layer}: max abs diff {gap:.2e}"


def test_blip_caption_logits_match(caption_pair):
    """Caption logits with teacher forcing equal transformers' within 1e-5, cross-attention maps too."""
    ours, reference = caption_pair
    input_ids, attention_mask = make_text(2, 7, seed=4)
    input_ids[:, 0] = BOS
    pixel_values = images(2)
    with torch.no_grad():
        mine, text_out = ours(pixel_values, input_ids, attention_mask)
        theirs = reference(pixel_values=pixel_values, input_ids=input_ids, attention_mask=attention_mask)
        image_embeds = theirs.image_embeds
        decoder_out = reference.text_decoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            encoder_hidden_states=image_embeds,
            output_attentions=True,
        )
    gap = max_gap(mine, theirs.logits)
    assert gap < TOLERANCE, f"caption logits: max abs diff {gap:.2e}"
    for layer, (a, b) in enumerate(zip(text_out.cross_attentions, decoder_out.cross_attentions)):
        gap = max_gap(a, b)
        assert gap < 1e-6, f"decoder cross-attention layer {layer}: max abs diff {gap:.2e}"


@pytest.mark.parametrize("with_prompt", [False, True])
def test_blip_caption_generation_matches(caption_pair, with_prompt):
    """Greedy captions are the same token ids as transformers' generate, with and without a prompt."""
    ours, reference = caption_pair
    pixel_values = images(3, seed=6)
    prompt = None
    if with_prompt:
        prompt = torch.tensor([[101, 11, 12, 13, SEP]] * 3)
    theirs = reference.generate(pixel_values=pixel_values, input_ids=prompt.clone() if with_prompt else None,
                                max_new_tokens=15, do_sample=False, num_beams=1)
    mine = ours.generate(pixel_values, prompt_ids=prompt, max_new_tokens=15)
    assert mine.tolist() == theirs.tolist(), f"ours {mine.tolist()}\ntheirs {theirs.tolist()}"


def test_blip_vqa_answer_logits_match(vqa_pair):
    """Question encoding and answer logits equal transformers' encoder and decoder within 1e-5."""
    ours, reference = vqa_pair
    input_ids, attention_mask = make_text(3, 8, seed=7)
    answer_ids = torch.tensor([[BOS, 20, 21, SEP]] * 3)
    pixel_values = images(3)
    with torch.no_grad():
        mine, _ = ours(input_ids, pixel_values, answer_ids, attention_mask)
        image_embeds = reference.vision_model(pixel_values).last_hidden_state
        question = reference.text_encoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            encoder_hidden_states=image_embeds,
            encoder_attention_mask=torch.ones(image_embeds.shape[:-1], dtype=torch.long),
        ).last_hidden_state
        theirs = reference.text_decoder(
            input_ids=answer_ids, encoder_hidden_states=question, encoder_attention_mask=attention_mask
        ).logits
        theirs_unmasked = reference.text_decoder(input_ids=answer_ids, encoder_hidden_states=question).logits
        mine_question = ours.encode_question(input_ids, pixel_values, attention_mask).hidden_states
    gap = max_gap(mine_question, question)
    assert gap < TOLERANCE, f"question encoding: max abs diff {gap:.2e}"
    gap = max_gap(mine, theirs)
    assert gap < TOLERANCE, f"answer logits: max abs diff {gap:.2e}"
    # transformers 5.25 ignores encoder_attention_mask in BLIP's cross-attention, and
    # our VQA model copies that. If this fails, transformers now applies the mask.
    assert torch.equal(theirs, theirs_unmasked), "transformers now masks padded question positions"


def test_blip_vqa_generation_matches(vqa_pair):
    """Greedy answers are the same token ids as transformers' BlipForQuestionAnswering.generate."""
    ours, reference = vqa_pair
    input_ids, attention_mask = make_text(3, 8, seed=8)
    pixel_values = images(3, seed=9)
    theirs = reference.generate(input_ids=input_ids, pixel_values=pixel_values, attention_mask=attention_mask,
                                max_new_tokens=8, do_sample=False, num_beams=1)
    mine = ours.generate(input_ids, pixel_values, attention_mask, max_new_tokens=8)
    assert mine.tolist() == theirs.tolist(), f"ours {mine.tolist()}\ntheirs {theirs.tolist()}"


def test_blip_generation_cache_matches_no_cache(caption_pair):
    """Captioning with and without the key-value cache yields the same ids."""
    ours, _ = caption_pair
    pixel_values = images(2, seed=10)
    assert ours.generate(pixel_values, use_cache=True).tolist() == ours.generate(pixel_values, use_cache=False).tolist()


def test_blip_fast_path_matches(caption_pair):
    """The fused attention path gives the manual path's caption logits within 1e-5."""
    ours, _ = caption_pair
    input_ids, attention_mask = make_text(2, 7, seed=11)
    pixel_values = images(2)
    with torch.no_grad():
        manual, _ = ours(pixel_values, input_ids, attention_mask)
        set_fast_attention(ours, True)
        try:
            fast, _ = ours(pixel_values, input_ids, attention_mask)
        finally:
            set_fast_attention(ours, False)
    gap = max_gap(fast, manual)
    assert gap < TOLERANCE, f"fast path: max abs diff {gap:.2e}"
