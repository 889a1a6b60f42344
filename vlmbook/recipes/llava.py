"""LLaVA recipe: visual instruction tuning of a tiny LLaVA on ShapesWorld questions.

A CLIP vision tower encodes the image into 65 tokens (CLS and 64 patches,
with the features of both tower layers concatenated), a 2-layer MLP
projects them to the decoder's width, and they replace the
65 ``<image>`` tokens of the prompt (Liu et al., 2023, "Visual Instruction Tuning",
Section 4.1). Each training sequence is a multi-turn conversation with one
turn per question of the scene, as in LLaVA's instruction data, and only
the answer tokens are trained. Worked sample (two turns)::

    <s> user : <image> x 65 what color is the circle ? assistant : red </s> user : how many objects are there ? assistant : two </s>
    labels: -100 everywhere except the answers and their </s>: red </s>, two </s>

After the questions, each conversation ends with a caption turn
("what objects are there?" answered by the scene's canonical caption).
Every fourth scene instead gets a conversation of one turn, that caption
request alone, like LLaVA's alignment data, so that the model also learns
to caption when the request opens the conversation.

NOTE: LLaVA trains in two stages, starting from a pretrained CLIP and LLM:
projector alignment on image-caption pairs, then instruction tuning. The tiny
model starts from the tiny CLIP tower (with `--init-from`), trains its decoder
from scratch, and does both in one stage: the caption-only conversations stand
in for the alignment data. The vision tower trains too, at a tenth of the
learning rate, where LLaVA keeps it frozen.
"""

from __future__ import annotations

import random

import numpy as np
import torch

from vlmbook.evaluation import accuracy_by_kind
from vlmbook.hf.configs import TINY, TINY_LLAVA, build_model
from vlmbook.hf.processors import build_llava_processor, normalize_pixels
from vlmbook.hf.tokenizer import EOS
from vlmbook.shapesworld import ShapesWorld
from vlmbook.recipes.warm_start import warm_start
from vlmbook.training import RecipeSettings

MAX_OBJECTS = 2  # at most two objects: counts, relations and positions stay learnable in minutes
# The request of the caption turn, in ShapesWorld's words: its vocabulary has no "describe" or "image".
CAPTION_REQUEST = "what objects are there?"
CAPTION_ONLY_EVERY = 4  # scenes whose index is a multiple of this get a caption-only conversation
NUM_IMAGE_TOKENS = 1 + (TINY.image_size // TINY.patch_size) ** 2  # the CLS token and 64 patch tokens


def chat_prompt(processor, question: str) -> str:
    """Render one user turn with an image and ask for the assistant's answer."""
    conversation = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
    return processor.apply_chat_template(conversation, add_generation_prompt=True)


def hallucination_rate(predictions: list[str], answers: list[str], kinds: list[str]) -> float:
    """Return the fraction of questions about an absent object that the model answers "yes".

    The questions follow POPE's setup (Li et al., 2023, arXiv 2305.10355): the
    question names a color-shape pair that is not in the image, so "yes" is a
    hallucination. POPE itself reports accuracy, precision, recall, F1 and the
    share of "yes" answers. This rate is the false-positive rate on the absent
    objects, the book's own summary.
    """
    absent = [p for p, a, k in zip(predictions, answers, kinds) if k == "exists" and a == "no"]
    if not absent:
        raise ValueError("no question about an absent object in the sample; use more scenes")
    return sum(p == "yes" for p in absent) / len(absent)


class LlavaRecipe:
    """Recipe that trains `LlavaForConditionalGeneration` to answer ShapesWorld questions."""

    name = "llava"

    def __init__(self, seed: int = 0, init_from: str | None = None):
        self.seed = seed
        self.init_from = init_from
        # The CLIP tower is pretrained, so it trains 10 times slower than the new projector and decoder.
        self.settings = RecipeSettings(
            max_steps=1200,
            batch_size=32,
            learning_rate=2e-3,
            eval_every=200,
            lr_scales={"model.vision_tower.": 0.1},
        )
        self.world = ShapesWorld("train", image_size=TINY.image_size, max_objects=MAX_OBJECTS, seed=seed)
        self.processor = None
        self._val_scenes = None
        # Token ids of conversation pieces. Questions and answers come from templates, so the same
        # pieces recur in every batch and each is tokenized only once.
        self._user_turn_ids: dict[tuple[str, bool], list[int]] = {}  # by (question, first turn)
        self._reply_ids: dict[str, list[int]] = {}  # by reply text

    def build(self):
        self.processor = build_llava_processor(
            self.world.vocabulary(), TINY.image_size, TINY.patch_size, TINY_LLAVA.max_text_length
        )
        # Left padding, so that a batch of prompts ends where generation starts.
        self.processor.tokenizer.padding_side = "left"
        model = build_model("llava", len(self.processor.tokenizer))
        if self.init_from is not None:
            warm_start(self.name, model, self.init_from)
        return model, self.processor

    def user_turn_ids(self, question: str, first: bool) -> list[int]:
        """Return the token ids of the user turn with `question`, up to "assistant:".

        The first turn of a conversation starts with <s> and carries the image tokens.
        The ids are memoized by question, so callers must not modify the returned list.
        """
        key = (question, first)
        if key not in self._user_turn_ids:
            if first:
                prompt = chat_prompt(self.processor, question).replace("<image>", "<image>" * NUM_IMAGE_TOKENS)
                self._user_turn_ids[key] = self.processor.tokenizer(prompt).input_ids  # starts with <s>
            else:
                prompt = f"user: {question} assistant:"
                self._user_turn_ids[key] = self.processor.tokenizer(prompt, add_special_tokens=False).input_ids
        return self._user_turn_ids[key]

    def reply_ids(self, reply: str) -> list[int]:
        """Return the token ids of an assistant reply followed by </s>, memoized like `user_turn_ids`."""
        if reply not in self._reply_ids:
            self._reply_ids[reply] = self.processor.tokenizer(f"{reply} {EOS}", add_special_tokens=False).input_ids
        return self._reply_ids[reply]

    def make_batch(self, indices):
        indices = [index % len(self.world) for index in indices]  # later epochs reuse the scenes
        batch = self.world.batch(indices)
        tokenizer = self.processor.tokenizer

        # Sequences: one conversation per scene, every question of the scene as one turn,
        # in an order seeded by the scene index. Only the answers and their </s> are labeled.
        sequences, label_sequences = [], []
        for index, scene in zip(indices, batch["scenes"]):
            # Turns as (request, reply). The caption turn labels every caption word with the image,
            # and it comes after the questions, so that no answer can copy from it.
            caption_turn = (CAPTION_REQUEST, scene.canonical_caption)
            if index % CAPTION_ONLY_EVERY == 0:
                turns = [caption_turn]  # as in LLaVA's alignment data, the caption request comes first
            else:
                qas = list(scene.questions)
                random.Random(index).shuffle(qas)
                turns = [(qa.question, qa.answer) for qa in qas] + [caption_turn]

            ids, labels = [], []
            for turn, (request, reply) in enumerate(turns):
                prompt_ids = self.user_turn_ids(request, first=turn == 0)
                answer_ids = self.reply_ids(reply)
                ids += prompt_ids + answer_ids
                labels += [-100] * len(prompt_ids) + answer_ids
            sequences.append(ids)
            label_sequences.append(labels)

        # Padding: on the right for training; padded positions get label -100.
        # The rows are filled in numpy: two torch.tensor calls per row took a quarter of make_batch.
        length = max(len(ids) for ids in sequences)
        input_ids = np.full((len(sequences), length), tokenizer.pad_token_id, dtype=np.int64)  # (B, T)
        labels = np.full((len(sequences), length), -100, dtype=np.int64)  # (B, T)
        attention_mask = np.zeros((len(sequences), length), dtype=np.int64)  # (B, T)
        for row, (ids, label_ids) in enumerate(zip(sequences, label_sequences)):
            input_ids[row, : len(ids)] = ids
            labels[row, : len(ids)] = label_ids
            attention_mask[row, : len(ids)] = 1
        return {
            "pixel_values": normalize_pixels(batch["pixel_values"]),
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(attention_mask),
            "labels": torch.from_numpy(labels),
        }

    def compute_loss(self, model, batch):
        return model(**batch).loss

    @torch.no_grad()
    def answer(self, model, processor, images, questions) -> list[str]:
        prompts = [chat_prompt(processor, question) for question in questions]
        inputs = processor(images=images, text=prompts, padding=True, return_tensors="pt")
        output = model.generate(**inputs, max_new_tokens=3, do_sample=False)
        new_tokens = output[:, inputs.input_ids.shape[1] :]  # (B, T_new)
        return [text.strip() for text in processor.batch_decode(new_tokens, skip_special_tokens=True)]

    def scenes(self, split: str, count: int) -> list:
        world = ShapesWorld(split, image_size=TINY.image_size, max_objects=MAX_OBJECTS, seed=self.seed)
        return [world[i] for i in range(count)]

    def questions(self, scenes):
        qas = [(scene, qa) for scene in scenes for qa in scene.questions]
        images = [scene.image for scene, _ in qas]
        return images, [qa.question for _, qa in qas], [qa.answer for _, qa in qas], [qa.kind for _, qa in qas]

    def quick_eval(self, model, processor):
        model.eval()
        if self._val_scenes is None:
            self._val_scenes = self.scenes("val", 32)
        images, questions, answers, kinds = self.questions(self._val_scenes)
        predictions = self.answer(model, processor, images, questions)
        accuracy = accuracy_by_kind(predictions, answers, kinds)["all"]
        return {"answer_accuracy": accuracy}, f"{questions[0]} -> {predictions[0]} ({answers[0]})"

    def evaluate(self, model, processor, num_scenes: int = 500) -> dict[str, float]:
        """Answer accuracy per question kind and the POPE-style hallucination rate on `test`."""
        model.eval()
        images, questions, answers, kinds = self.questions(self.scenes("test", num_scenes))
        predictions = []
        for start in range(0, len(questions), 100):
            chunk = slice(start, start + 100)
            predictions += self.answer(model, processor, images[chunk], questions[chunk])
        metrics = {f"answer_accuracy_{kind}": value for kind, value in accuracy_by_kind(predictions, answers, kinds).items()}
        metrics["hallucination_rate"] = hallucination_rate(predictions, answers, kinds)
        return metrics
