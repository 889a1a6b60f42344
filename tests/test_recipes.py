"""Tests of the tokenizer, processors, recipe batches, seeding and warm starts."""

import pytest
import torch
from accelerate.utils import set_seed
from transformers import CLIPModel

from vlmbook.hf.configs import TINY, build_model, clip_config
from vlmbook.hf.processors import build_clip_processor, build_llava_processor, normalize_pixels
from vlmbook.hf.tokenizer import build_tokenizer
from vlmbook.recipes import get_recipe
from vlmbook.recipes.llava import CAPTION_ONLY_EVERY, CAPTION_REQUEST, NUM_IMAGE_TOKENS
from vlmbook.recipes.tokens import MemoizedTokenizer
from vlmbook.recipes.warm_start import warm_start
from vlmbook.shapesworld import ShapesWorld
from vlmbook.training import RecipeSettings, parameter_groups, train

VOCABULARY = ShapesWorld.vocabulary()


def test_tokenizer_frames_and_splits_punctuation():
    tokenizer = build_tokenizer(VOCABULARY, style="bert")
    ids = tokenizer("What color is the circle?").input_ids
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert tokens == ["[CLS]", "what", "color", "is", "the", "circle", "?", "[SEP]"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "what color is the circle?"


def test_tokenizer_maps_unknown_words_to_unk():
    tokenizer = build_tokenizer(VOCABULARY, style="bert")
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("a magenta circle").input_ids)
    assert tokens[2] == "[UNK]"


def test_llama_style_starts_with_bos_only():
    tokenizer = build_tokenizer(VOCABULARY, style="llama")
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("a red circle").input_ids)
    assert tokens == ["<s>", "a", "red", "circle"]


def test_memoized_tokenizer_matches_padded_call():
    tokenizer = build_tokenizer(VOCABULARY, style="bert")
    memoized = MemoizedTokenizer(tokenizer)
    texts = ["a red circle", "a small red circle left of a large blue square", "what color is the circle?", "a red circle"]
    expected = tokenizer(texts, padding=True, return_tensors="pt")
    for _ in range(2):  # the second call reads every text from the memo
        tokens = memoized(texts)
        assert torch.equal(tokens.input_ids, expected.input_ids)
        assert torch.equal(tokens.attention_mask, expected.attention_mask)
        assert tokens.input_ids.dtype == expected.input_ids.dtype
    shorter = memoized(texts[:1])
    assert torch.equal(shorter.input_ids, tokenizer(texts[:1], padding=True, return_tensors="pt").input_ids)


def test_memoized_tokenizer_rejects_left_padding():
    tokenizer = build_tokenizer(VOCABULARY, style="bert")
    tokenizer.padding_side = "left"
    with pytest.raises(ValueError, match="padding_side"):
        MemoizedTokenizer(tokenizer)


def test_clip_pools_text_at_sep_token():
    processor = build_clip_processor(VOCABULARY, TINY.image_size, TINY.max_text_length)
    config = clip_config(len(processor.tokenizer))
    assert config.text_config.eos_token_id == processor.tokenizer.sep_token_id
    assert config.text_config.eos_token_id != 2  # 2 selects the legacy argmax pooling
    model = CLIPModel(config).eval()

    # The causal text tower pooled at [SEP] gives the same embedding with or without padding.
    alone = processor(text=["a red circle"], return_tensors="pt")
    padded = processor(text=["a red circle", "a small red circle left of a large blue square"], padding=True,
                       return_tensors="pt")
    with torch.no_grad():
        embed_alone = model.get_text_features(**alone).pooler_output[0]
        embed_padded = model.get_text_features(**padded).pooler_output[0]
    torch.testing.assert_close(embed_alone, embed_padded, atol=1e-5, rtol=1e-5)


def test_normalize_pixels_matches_processor():
    processor = build_clip_processor(VOCABULARY, TINY.image_size, TINY.max_text_length)
    world = ShapesWorld("test", image_size=TINY.image_size, seed=0)
    batch = world.batch([0, 1, 2])
    from_processor = processor(images=[scene.image for scene in batch["scenes"]], return_tensors="pt").pixel_values
    torch.testing.assert_close(normalize_pixels(batch["pixel_values"]), from_processor, atol=1e-5, rtol=0)


def test_llava_processor_expands_image_token():
    processor = build_llava_processor(VOCABULARY, TINY.image_size, TINY.patch_size, 96)
    model = build_model("llava", len(processor.tokenizer)).eval()
    scene = ShapesWorld("test", seed=0)[0]
    conversation = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "what color?"}]}]
    prompt = processor.apply_chat_template(conversation, add_generation_prompt=True)
    assert prompt == "user: <image> what color? assistant:"

    inputs = processor(images=[scene.image], text=[prompt], return_tensors="pt")
    image_tokens = (inputs.input_ids == processor.tokenizer.image_token_id).sum().item()
    assert image_tokens == NUM_IMAGE_TOKENS == model.config.image_seq_length == 65
    with torch.no_grad():
        logits = model(**inputs).logits  # fails if the token count and the image features disagree
    assert logits.shape[:2] == inputs.input_ids.shape


def test_llava_batch_trains_only_the_answers():
    recipe = get_recipe("llava")
    _, processor = recipe.build()
    indices = [1, 2, 3, 5]  # no multiple of CAPTION_ONLY_EVERY: each row is a full conversation
    assert all(index % CAPTION_ONLY_EVERY for index in indices)
    batch = recipe.make_batch(indices)
    tokenizer = processor.tokenizer
    scenes = ShapesWorld("train", max_objects=2, seed=0).scenes(indices)
    for row, scene in enumerate(scenes):
        labels = batch["labels"][row]
        labelled = (labels != -100).nonzero().flatten().tolist()
        tokens = tokenizer.convert_ids_to_tokens(labels[labelled].tolist())

        # One turn per question: each answer word followed by </s>.
        answer_count = len(scene.questions)
        answer_tokens = tokens[: 2 * answer_count]
        assert answer_tokens[1::2] == ["</s>"] * answer_count
        assert sorted(answer_tokens[0::2]) == sorted(qa.answer for qa in scene.questions)

        # The last turn: the canonical caption and </s>, and nothing else labeled.
        assert tokens[2 * answer_count :] == scene.captions[0].split() + ["</s>"]

        # Every answer and the caption come right after "assistant :".
        turn_starts = labelled[0 : 2 * answer_count : 2] + [labelled[2 * answer_count]]
        for position in turn_starts:
            before = tokenizer.convert_ids_to_tokens(batch["input_ids"][row, position - 2 : position].tolist())
            assert before == ["assistant", ":"]


def test_llava_caption_only_conversation_opens_with_image():
    recipe = get_recipe("llava")
    _, processor = recipe.build()
    index = 2 * CAPTION_ONLY_EVERY
    batch = recipe.make_batch([index, index + 1])
    scene = ShapesWorld("train", max_objects=2, seed=0)[index]
    tokenizer = processor.tokenizer
    tokens = tokenizer.convert_ids_to_tokens(batch["input_ids"][0][batch["attention_mask"][0].bool()].tolist())

    # One turn: <s> user : <image> x 65, the caption request, the caption and </s>.
    assert tokens[:3] == ["<s>", "user", ":"]
    assert tokens.count("<image>") == NUM_IMAGE_TOKENS
    text = [token for token in tokens if token != "<image>"]
    assert text == ["<s>", "user", ":", *tokenizer.tokenize(CAPTION_REQUEST), "assistant", ":",
                    *scene.captions[0].split(), "</s>"]
    labelled = batch["labels"][0][batch["labels"][0] != -100].tolist()
    assert tokenizer.convert_ids_to_tokens(labelled) == scene.captions[0].split() + ["</s>"]
    # The other row, a full conversation, is longer than the caption-only one.
    assert batch["attention_mask"][1].sum() > batch["attention_mask"][0].sum()


def test_llava_memoized_batches_match_fresh():
    warm = get_recipe("llava")
    warm.build()
    first = warm.make_batch([0, 1, 2, 3])
    again = warm.make_batch([0, 1, 2, 3])  # every piece now comes from the memo
    fresh = get_recipe("llava")
    fresh.build()
    reference = fresh.make_batch([0, 1, 2, 3])
    for key in reference:
        assert torch.equal(first[key], reference[key]), key
        assert torch.equal(again[key], reference[key]), key


def test_blip_decoder_inputs_start_with_dec():
    recipe = get_recipe("blip-captioning")
    _, processor = recipe.build()
    batch = recipe.make_batch([0, 1, 2, 3])
    assert (batch["input_ids"][:, 0] == processor.tokenizer.convert_tokens_to_ids("[DEC]")).all()
    assert ((batch["labels"] == -100) == (batch["attention_mask"] == 0)).all()


def test_vqa_shared_image_encoding_matches_repeats():
    recipe = get_recipe("blip-vqa")
    model, _ = recipe.build()
    batch = recipe.make_batch([0, 1, 2, 3])
    questions = batch["input_ids"].shape[0]
    assert batch["pixel_values"].shape[0] == 4
    assert batch["image_index"].tolist() == [i for i in range(4) for _ in range(recipe.questions_per_scene)]
    assert questions == 4 * recipe.questions_per_scene

    encoded_batch_sizes = []
    model.vision_model.register_forward_pre_hook(
        lambda module, args, kwargs: encoded_batch_sizes.append(kwargs["pixel_values"].shape[0]), with_kwargs=True
    )
    shared_loss = recipe.compute_loss(model, batch)
    shared_loss.backward()
    shared_grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()

    # Reference: the plain model call with each scene's image repeated once per question.
    repeated = {key: value for key, value in batch.items() if key != "image_index"}
    repeated["pixel_values"] = batch["pixel_values"][batch["image_index"]]  # (B*Q, 3, H, W)
    reference_loss = model(**repeated).loss
    reference_loss.backward()

    torch.testing.assert_close(shared_loss, reference_loss)
    assert shared_grads.keys() == {name for name, p in model.named_parameters() if p.grad is not None}
    for name, p in model.named_parameters():
        if p.grad is not None:
            torch.testing.assert_close(shared_grads[name], p.grad, msg=lambda m: f"{name}: {m}")
    assert encoded_batch_sizes == [4, questions]  # the shared pass encoded 4 images, the reference 12
    # compute_loss leaves the batch unchanged and removes its hook, so the tower outputs one row per image again.
    assert "image_index" in batch
    with torch.no_grad():
        assert model.vision_model(pixel_values=batch["pixel_values"]).last_hidden_state.shape[0] == 4


def _short_run(name: str, seed: int, steps: int = 2):
    recipe = get_recipe(name, seed=0)
    recipe.settings.max_steps = steps
    recipe.settings.eval_every = steps
    recipe.settings.batch_size = 8
    recipe.settings.warmup_steps = 1
    return train(recipe, seed=seed, log=lambda line: None)


def test_training_is_reproducible_with_a_seed():
    first = _short_run("clip", seed=3).model.state_dict()
    second = _short_run("clip", seed=3).model.state_dict()
    other = _short_run("clip", seed=4).model.state_dict()
    for key in first:
        torch.testing.assert_close(first[key], second[key], atol=0, rtol=0, msg=lambda m: f"{key}: {m}")
    assert any(not torch.equal(first[key], other[key]) for key in first)


def test_history_has_one_record_per_evaluation():
    result = _short_run("blip-itm", seed=0, steps=4)
    assert [record["step"] for record in result.history] == [4]
    assert {"step", "seconds", "loss", "lr", "itm_roc_auc"} <= set(result.history[0])


def test_parameter_groups_freeze_and_scale():
    model = build_model("llava", len(VOCABULARY) + 16)
    settings = RecipeSettings(
        max_steps=1,
        batch_size=1,
        learning_rate=1e-3,
        eval_every=1,
        frozen_prefixes=("model.multi_modal_projector.",),
        lr_scales={"model.vision_tower.": 0.1},
    )
    groups = parameter_groups(model, settings)
    grouped = {id(parameter): group for group in groups for parameter in group["params"]}
    for name, parameter in model.named_parameters():
        if name.startswith("model.multi_modal_projector."):
            assert not parameter.requires_grad, name
            assert id(parameter) not in grouped, name
        elif name.startswith("model.vision_tower."):
            assert grouped[id(parameter)]["lr"] == pytest.approx(1e-4), name
        else:
            assert grouped[id(parameter)]["lr"] == pytest.approx(1e-3), name


def test_blip_vqa_keeps_vision_tower_frozen():
    result = _short_run("blip-vqa", seed=0)
    set_seed(0)  # train() seeds the same way before it builds the model
    initial, _ = get_recipe("blip-vqa").build()
    trained = result.model.state_dict()
    for name, value in initial.state_dict().items():
        if name.startswith("vision_model."):
            torch.testing.assert_close(trained[name], value, atol=0, rtol=0, msg=lambda m: f"{name}: {m}")
    assert any(
        not torch.equal(trained[name], value)
        for name, value in initial.state_dict().items()
        if name.startswith("text_decoder.")
    )


def test_llava_warm_start_copies_clip_tower(tmp_path):
    clip = _short_run("clip", seed=0)
    clip.model.save_pretrained(tmp_path)
    clip.processor.save_pretrained(tmp_path)
    model = build_model("llava", len(clip.processor.tokenizer))
    warm_start("llava", model, tmp_path)
    source = clip.model.vision_model.state_dict()
    target = model.model.vision_tower.state_dict()
    assert set(source) == set(target)
    for key in source:
        torch.testing.assert_close(target[key], source[key], msg=lambda m: f"{key}: {m}")


def test_blip_captioner_warm_start_converts_clip_tower(tmp_path):
    clip = _short_run("clip", seed=0)
    clip.model.save_pretrained(tmp_path)
    clip.processor.save_pretrained(tmp_path)
    model = build_model("blip-captioning", len(clip.processor.tokenizer))
    images = normalize_pixels(ShapesWorld("train", seed=0).batch(range(8))["pixel_values"])
    warm_start("blip-captioning", model, tmp_path, pixel_values=images)

    # The layers map one to one; q, k and v are fused into qkv in that order.
    clip_layer, blip_layer = clip.model.vision_model.encoder.layers[0], model.vision_model.encoder.layers[0]
    q, k, v = blip_layer.self_attn.qkv.weight.chunk(3)
    torch.testing.assert_close(q, clip_layer.self_attn.q_proj.weight)
    torch.testing.assert_close(k, clip_layer.self_attn.k_proj.weight)
    torch.testing.assert_close(v, clip_layer.self_attn.v_proj.weight)
    torch.testing.assert_close(blip_layer.mlp.fc2.weight, clip_layer.mlp.fc2.weight)

    # The folded pre-LayerNorm is approximate: pooled features point the same way, roughly.
    with torch.no_grad():
        clip_features = clip.model.vision_model(pixel_values=images).pooler_output
        blip_features = model.vision_model(pixel_values=images).pooler_output
    similarity = torch.nn.functional.cosine_similarity(clip_features, blip_features).mean().item()
    assert similarity > 0.5, f"mean cosine similarity {similarity:.2f}"


def test_blip_warm_start_copies_captioner(tmp_path):
    captioner = _short_run("blip-captioning", seed=0)
    captioner.model.save_pretrained(tmp_path)
    captioner.processor.save_pretrained(tmp_path)
    model = build_model("blip-vqa", len(captioner.processor.tokenizer))
    warm_start("blip-vqa", model, tmp_path)
    source = captioner.model.state_dict()
    torch.testing.assert_close(model.vision_model.embeddings.patch_embedding.weight,
                               source["vision_model.embeddings.patch_embedding.weight"])
    torch.testing.assert_close(model.text_encoder.embeddings.word_embeddings.weight,
                               source["text_decoder.bert.embeddings.word_embeddings.weight"])
    torch.testing.assert_close(model.text_decoder.cls.predictions.transform.dense.weight,
                               source["text_decoder.cls.predictions.transform.dense.weight"])
