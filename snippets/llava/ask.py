"""Generator: ask the LLaVA checkpoint about one ShapesWorld scene, and break its prompt on purpose.

The page embeds the `load`, `ask`, `merge`, `wrong_placeholders` and
`unexpanded_prompt` sections. The table of the model's answers and its error
message on the page come from this same code.
"""

# --8<-- [start:load]
import torch
from transformers import AutoProcessor, LlavaForConditionalGeneration

import vlmbook
from vlmbook.recipes.llava import chat_prompt
from vlmbook.shapesworld import ShapesWorld

# A local folder, or "llava-hf/llava-1.5-7b-hf" with VLMBOOK_CHECKPOINTS=hub.
checkpoint = vlmbook.checkpoint("llava")
processor = AutoProcessor.from_pretrained(checkpoint)
model = LlavaForConditionalGeneration.from_pretrained(checkpoint).eval()
scene = ShapesWorld("test", max_objects=2, seed=0)[0]
# --8<-- [end:load]


# --8<-- [start:ask]
@torch.no_grad()
def ask(image, question: str, max_new_tokens: int = 5) -> str:
    """Answer one question about one image with greedy decoding."""
    prompt = chat_prompt(processor, question)  # apply_chat_template on one user turn
    inputs = processor(images=image, text=prompt, return_tensors="pt")
    output_ids = model.generate(
        **inputs, max_new_tokens=max_new_tokens, do_sample=False
    )
    new_ids = output_ids[0, inputs.input_ids.shape[1] :]  # after the prompt
    return processor.decode(new_ids, skip_special_tokens=True).strip()


for qa in scene.questions:
    answer = ask(scene.image, qa.question)
    print(f"{qa.question:<50} -> {answer:<7} (truth: {qa.answer})")
# --8<-- [end:ask]

# --8<-- [start:merge]
prompt = chat_prompt(processor, scene.questions[0].question)
inputs = processor(images=scene.image, text=prompt, return_tensors="pt")
config = model.config

with torch.no_grad():
    # 1. Vision tower and projector: one vector per image token, D_txt wide.
    image_features = model.get_image_features(
        pixel_values=inputs.pixel_values,
        vision_feature_layer=config.vision_feature_layer,
        vision_feature_select_strategy=config.vision_feature_select_strategy,
    ).pooler_output[0]  # (N_img, D_txt)

    # 2. Embed the prompt, then write the image features over the placeholders.
    inputs_embeds = model.get_input_embeddings()(inputs.input_ids)  # (1, T, D_txt)
    is_image = inputs.input_ids[0] == config.image_token_id  # (T,)
    inputs_embeds[0, is_image] = image_features

    # 3. The language model reads the merged sequence like embedded text.
    by_hand = model(
        inputs_embeds=inputs_embeds, attention_mask=inputs.attention_mask
    ).logits
    by_model = model(**inputs).logits

print("one feature per placeholder:", len(image_features) == int(is_image.sum()))
same_logits = torch.allclose(by_hand, by_model, atol=1e-5)
print("same logits as model(**inputs):", same_logits)
# --8<-- [end:merge]

# --8<-- [start:wrong_placeholders]
prompt = chat_prompt(processor, "how many objects are there?")
image_token = processor.image_token
two_placeholders = prompt.replace(image_token, f"{image_token} {image_token}")
try:
    processor(images=scene.image, text=two_placeholders, return_tensors="pt")
except ValueError as error:
    print(f"{type(error).__name__}: {error}")
# --8<-- [end:wrong_placeholders]

# --8<-- [start:unexpanded_prompt]
prompt = chat_prompt(processor, "how many objects are there?")
inputs = processor(images=scene.image, text=prompt, return_tensors="pt")

# The tokenizer alone skips the processor's expansion: one placeholder stays.
unexpanded = processor.tokenizer(prompt, return_tensors="pt")
try:
    model(input_ids=unexpanded.input_ids, pixel_values=inputs.pixel_values)
except ValueError as error:
    model_error = f"{type(error).__name__}: {error}"
    print(model_error)
# --8<-- [end:unexpanded_prompt]

from vlmbook.book import markdown

TABLE_HEADERS = {
    "ko": "| 질문 종류 | 질문 | LLaVA의 답 | 정답 |\n| --- | --- | --- | --- |",
    "en": "| kind | question | LLaVA's answer | truth |\n| --- | --- | --- | --- |",
}
answers = [(qa, ask(scene.image, qa.question)) for qa in scene.questions]


@markdown("llava-sample-answers")
def sample_answers(lang: str) -> str:
    rows = [f"| {qa.kind} | {qa.question} | {answer} | {qa.answer} |" for qa, answer in answers]
    return "\n".join([TABLE_HEADERS[lang], *rows])


@markdown("llava-sample-caption")
def sample_caption(lang: str) -> str:
    return scene.captions[0]


@markdown("llava-unexpanded-error")
def unexpanded_error(lang: str) -> str:
    return f"```text\n{model_error}\n```"
