"""Generator: CLIP, BLIP and LLaVA measured on the same ShapesWorld test scenes.

The page embeds the sections from `setup` to `report`. The comparison table,
the two figures and the numbers in the prose come from what they compute.
Every checkpoint runs the tasks that its design supports, through the
evaluation helpers of its training recipe.
"""

# --8<-- [start:setup]
import torch

from vlmbook.checkpoints import load_checkpoint
from vlmbook.shapesworld import ShapesWorld

# One thread, so that the latencies below are the cost of one call on one core.
torch.set_num_threads(1)

NUM_SCENES = 100  # per task; retrieval ranks all 100 in one pool
MODELS = ("clip", "blip-itm", "blip-captioning", "blip-vqa", "llava")
loaded = {name: load_checkpoint(name) for name in MODELS}  # name -> (model, processor)
loaded["llava"][1].tokenizer.padding_side = "left"  # prompts end where answers start

# One object per scene for classification; up to two, with captions and questions, for the rest.
single = ShapesWorld("test", min_objects=1, max_objects=1, seed=0)
multi = ShapesWorld("test", min_objects=1, max_objects=2, seed=0)
single_scenes = [single[i] for i in range(NUM_SCENES)]
scenes = [multi[i] for i in range(NUM_SCENES)]
# --8<-- [end:setup]

# --8<-- [start:classify]
from vlmbook.recipes.clip import class_prompts, zero_shot_accuracy
from vlmbook.shapesworld import COLORS, SHAPES

CLASSES = [(color, shape) for color in COLORS for shape in SHAPES]
PROMPTS = [prompt for color, shape in CLASSES for prompt in class_prompts(color, shape)]


@torch.no_grad()
def itm_probabilities(model, processor, images: list, texts: list[str]) -> torch.Tensor:
    """P(match) of every (image, text) pair from BLIP's ITM head, shape (N_img, N_txt).

    The vision tower runs once per image, but the text encoder runs once per
    pair, because its cross-attention reads that pair's image tokens.
    """
    pixel_values = processor(images=images, return_tensors="pt").pixel_values  # (N_img, 3, H, W)
    image_tokens = model.vision_model(pixel_values=pixel_values).last_hidden_state  # (N_img, N_patch+1, D)
    tokens = processor.tokenizer(texts, padding=True, return_tensors="pt")  # (N_txt, T_txt)
    rows = []
    for one_image in image_tokens:
        pair_tokens = one_image.expand(len(texts), -1, -1)  # (N_txt, N_patch+1, D)
        hidden = model.text_encoder(
            input_ids=tokens.input_ids,
            attention_mask=tokens.attention_mask,
            encoder_hidden_states=pair_tokens,
            encoder_attention_mask=torch.ones(pair_tokens.shape[:2], dtype=torch.long),
        ).last_hidden_state  # (N_txt, T_txt, D)
        rows.append(model.itm_head(hidden[:, 0]).softmax(dim=-1)[:, 1])  # (N_txt,)
    return torch.stack(rows)  # (N_img, N_txt)


def itm_zero_shot_accuracy(model, processor, scenes: list) -> float:
    """Classify each scene as the class whose best prompt BLIP's ITM head matches most."""
    probabilities = itm_probabilities(model, processor, [s.image for s in scenes], PROMPTS)
    best = probabilities.view(len(scenes), len(CLASSES), -1).amax(dim=2).argmax(dim=1)  # (N_img,)
    truths = [(s.objects[0].color, s.objects[0].shape) for s in scenes]
    return sum(CLASSES[i] == truth for i, truth in zip(best.tolist(), truths)) / len(scenes)


zero_shot = {
    "clip": zero_shot_accuracy(*loaded["clip"], single_scenes),
    "blip-itm": itm_zero_shot_accuracy(*loaded["blip-itm"], single_scenes),
}

# Check against the model's own forward, which runs the vision tower again for every pair.
itm_model, itm_processor = loaded["blip-itm"]
pairs = itm_processor(images=[single_scenes[0].image] * 2, text=PROMPTS[:2], padding=True, return_tensors="pt")
with torch.no_grad():
    expected = itm_model(**pairs, use_itm_head=True).itm_score.softmax(dim=-1)[:, 1]  # (2,)
actual = itm_probabilities(itm_model, itm_processor, [single_scenes[0].image], PROMPTS[:2])[0]  # (2,)
print(f"same P(match) as BlipForImageTextRetrieval within 1e-5: {torch.allclose(actual, expected, atol=1e-5)}")
# --8<-- [end:classify]

# --8<-- [start:retrieve]
from vlmbook.evaluation import recall_at_k
from vlmbook.recipes.clip import RETRIEVAL_POOL, retrieval_recalls


def itm_retrieval_recalls(model, processor, scenes: list) -> dict[str, float]:
    """Recall@1 and @5 of BLIP's ITM head, scoring every pair of a pool as CLIP's recipe does."""
    totals = {"t2i_r1": 0.0, "t2i_r5": 0.0, "i2t_r1": 0.0, "i2t_r5": 0.0}
    for start in range(0, len(scenes), RETRIEVAL_POOL):
        pool = scenes[start : start + RETRIEVAL_POOL]
        captions = [scene.captions[0] for scene in pool]
        similarity = itm_probabilities(model, processor, [s.image for s in pool], captions)  # (P_img, P_txt)
        is_match = torch.tensor([[a == b for b in captions] for a in captions])  # same caption counts
        weight = len(pool) / len(scenes)
        for k in (1, 5):
            totals[f"i2t_r{k}"] += weight * recall_at_k(similarity, is_match, k)
            totals[f"t2i_r{k}"] += weight * recall_at_k(similarity.T, is_match.T, k)
    return totals


retrieval = {
    "clip": retrieval_recalls(*loaded["clip"], scenes),
    "blip-itm": itm_retrieval_recalls(*loaded["blip-itm"], scenes),
}
# --8<-- [end:retrieve]

from vlmbook.book import check_claims

# The "A fusion head answers well only what it was trained to answer" paragraph of
# docs/comparing.ko.md and docs/comparing.en.md states that the ITM head ranks a pool worse than CLIP.
check_claims(
    "the 'A fusion head answers well only what it was trained to answer' paragraph of docs/comparing.*.md",
    {"the ITM head's text→image R@1 is below CLIP's": retrieval["blip-itm"]["t2i_r1"] < retrieval["clip"]["t2i_r1"]},
    f"ITM {retrieval['blip-itm']['t2i_r1']:.3f}, CLIP {retrieval['clip']['t2i_r1']:.3f}",
)

# --8<-- [start:caption]
from vlmbook.evaluation import caption_attribute_accuracy
from vlmbook.hf.configs import TINY
from vlmbook.recipes import get_recipe
from vlmbook.recipes.llava import CAPTION_REQUEST, chat_prompt


@torch.no_grad()
def llava_captions(model, processor, scenes: list) -> list[str]:
    """Ask LLaVA for a caption with the request of its training conversations, decoding greedily."""
    prompt = chat_prompt(processor, CAPTION_REQUEST)  # "what objects are there?"
    inputs = processor(images=[s.image for s in scenes], text=[prompt] * len(scenes), padding=True,
                       return_tensors="pt")
    output = model.generate(**inputs, max_new_tokens=TINY.max_text_length, do_sample=False)
    new_tokens = output[:, inputs.input_ids.shape[1] :]  # (N, T_new): the caption after the prompt
    return [text.strip() for text in processor.batch_decode(new_tokens, skip_special_tokens=True)]


captioner = get_recipe("blip-captioning")
captions = {
    "blip-captioning": captioner.generate_captions(*loaded["blip-captioning"], scenes),
    "llava": llava_captions(*loaded["llava"], scenes),
}
references = [s.captions[0] for s in scenes]
caption_accuracy = {name: caption_attribute_accuracy(texts, references) for name, texts in captions.items()}
# --8<-- [end:caption]

# --8<-- [start:answer]
from vlmbook.evaluation import accuracy_by_kind
from vlmbook.recipes.llava import hallucination_rate

qas = [(scene.image, qa) for scene in scenes for qa in scene.questions]
images = [image for image, _ in qas]
questions = [qa.question for _, qa in qas]
answers = [qa.answer for _, qa in qas]
kinds = [qa.kind for _, qa in qas]

answerers = {name: get_recipe(name) for name in ("blip-vqa", "llava")}
predictions, vqa_accuracy, hallucination = {}, {}, {}
for name, recipe in answerers.items():
    predictions[name] = []
    for start in range(0, len(questions), 100):  # batches of 100 questions
        batch = slice(start, start + 100)
        predictions[name] += recipe.answer(*loaded[name], images[batch], questions[batch])
    vqa_accuracy[name] = accuracy_by_kind(predictions[name], answers, kinds)
    hallucination[name] = hallucination_rate(predictions[name], answers, kinds)
# --8<-- [end:answer]

# --8<-- [start:latency]
import statistics
import time

from vlmbook.recipes.clip import embed_images, embed_texts

LATENCY_SAMPLES = 20  # timed calls per task, one image (and one question) each


def median_milliseconds(run, inputs: list) -> float:
    """Median wall-clock time of run(x) over `inputs`, after one warm-up call."""
    run(inputs[0])
    timings = []
    for x in inputs:
        start = time.perf_counter()
        run(x)
        timings.append(time.perf_counter() - start)
    return 1000 * statistics.median(timings)


# CLIP embeds the class prompts once; each new image costs one image-tower pass.
clip_prompt_embeds = embed_texts(*loaded["clip"], PROMPTS)  # (N_prompt, D_proj)
one_question = [(scene.image, scene.questions[0].question) for scene in scenes[:LATENCY_SAMPLES]]
one_image = [scene.image for scene in single_scenes[:LATENCY_SAMPLES]]
TASKS = {  # name -> (what one timed call does, the call)
    "clip": ("classify", lambda image: (embed_images(*loaded["clip"], [image]) @ clip_prompt_embeds.T).argmax()),
    "blip-itm": ("classify", lambda image: itm_probabilities(*loaded["blip-itm"], [image], PROMPTS).argmax()),
    "blip-captioning": ("caption", lambda scene: captioner.generate_captions(*loaded["blip-captioning"], [scene])),
    "blip-vqa": ("answer", lambda pair: answerers["blip-vqa"].answer(*loaded["blip-vqa"], [pair[0]], [pair[1]])),
    "llava": ("answer", lambda pair: answerers["llava"].answer(*loaded["llava"], [pair[0]], [pair[1]])),
}
task_inputs = {"classify": one_image, "caption": scenes[:LATENCY_SAMPLES], "answer": one_question}
latency_ms = {name: median_milliseconds(run, task_inputs[task]) for name, (task, run) in TASKS.items()}
parameters = {name: model.num_parameters() for name, (model, _) in loaded.items()}
# --8<-- [end:latency]

# The "What the table says about the designs" section of docs/comparing.ko.md and
# docs/comparing.en.md draws two conclusions from these timings. If a rebuild changes them, the build fails.
latency_checks = {
    "the ITM model's slowdown over CLIP is smaller than its number of text-encoder sequences "
    "(the 'gap in time is smaller than the gap in work')": (
        latency_ms["blip-itm"] / latency_ms["clip"] < len(PROMPTS)
    ),
    "a BLIP caption takes longer than a BLIP VQA answer ('Latency does not follow the parameter count')": (
        latency_ms["blip-captioning"] > latency_ms["blip-vqa"]
    ),
}
check_claims(
    "docs/comparing.*.md",
    latency_checks,
    f"latency in ms: { {name: round(ms, 1) for name, ms in latency_ms.items()} }, {len(PROMPTS)} prompts",
)

# --8<-- [start:report]
# The page's table, figures and numbers, from the measurements above.
import platform
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from vlmbook.book import figure, markdown

KINDS = ("color", "shape", "count", "position", "exists")
HEADERS = {
    "ko": ("지표", "CLIP", "BLIP ITM", "BLIP 캡션", "BLIP VQA", "LLaVA"),
    "en": ("metric", "CLIP", "BLIP ITM", "BLIP captioning", "BLIP VQA", "LLaVA"),
}
ROW_NAMES = {
    "ko": {
        "design": "구조", "zero_shot": "제로샷 분류 정확도 ({classes}개 클래스)",
        "t2i": "텍스트→이미지 검색 R@1 / R@5", "i2t": "이미지→텍스트 검색 R@1 / R@5",
        "caption": "캡션 속성 정확도", "vqa_all": "VQA 정확도 (전체)", "vqa": "VQA 정확도: {kind}",
        "hallucination": "환각 비율 (없는 물체에 \"yes\")", "parameters": "파라미터 수",
        "latency": "CPU 지연 시간 (이미지 1장, ms)", "task": "지연 시간을 잰 작업",
    },
    "en": {
        "design": "design", "zero_shot": "zero-shot classification accuracy ({classes} classes)",
        "t2i": "text→image retrieval R@1 / R@5", "i2t": "image→text retrieval R@1 / R@5",
        "caption": "caption attribute accuracy", "vqa_all": "VQA accuracy (all)", "vqa": "VQA accuracy: {kind}",
        "hallucination": "hallucination rate (\"yes\" to an absent object)", "parameters": "parameters",
        "latency": "CPU latency (one image, ms)", "task": "task timed",
    },
}
KIND_NAMES = {
    "ko": {"color": "색", "shape": "모양", "count": "개수", "position": "위치", "exists": "존재 여부"},
    "en": {kind: kind for kind in KINDS},
}
DESIGNS = {
    "ko": {"clip": "듀얼 인코더", "blip-itm": "융합 인코더", "blip-captioning": "인코더-디코더",
           "blip-vqa": "인코더-디코더", "llava": "프로젝터 + LLM"},
    "en": {"clip": "dual encoder", "blip-itm": "fusion encoder", "blip-captioning": "encoder-decoder",
           "blip-vqa": "encoder-decoder", "llava": "projector + LLM"},
}
TASK_NAMES = {
    "ko": {"classify": "분류 (프롬프트 {prompts}개)", "caption": "캡션 1개", "answer": "질문 1개에 답"},
    "en": {"classify": "classify ({prompts} prompts)", "caption": "one caption", "answer": "answer one question"},
}
MISSING = "—"


def task_name(lang: str, task: str) -> str:
    return TASK_NAMES[lang][task].format(prompts=len(PROMPTS))


def percent(value: float) -> str:
    return f"{value:.1%}"


def table_rows(lang: str) -> list[tuple[str, dict[str, str]]]:
    """Rows of the comparison table: a label and one cell per checkpoint that has a value."""
    names = ROW_NAMES[lang]
    rows = [
        (names["design"], DESIGNS[lang]),
        (names["zero_shot"].format(classes=len(CLASSES)), {name: percent(value) for name, value in zero_shot.items()}),
    ]
    for direction in ("t2i", "i2t"):
        cells = {name: f"{percent(r[f'{direction}_r1'])} / {percent(r[f'{direction}_r5'])}"
                 for name, r in retrieval.items()}
        rows.append((names[direction], cells))
    rows.append((names["caption"], {name: percent(a["all"]) for name, a in caption_accuracy.items()}))
    rows.append((names["vqa_all"], {name: percent(a["all"]) for name, a in vqa_accuracy.items()}))
    for kind in KINDS:
        label = names["vqa"].format(kind=KIND_NAMES[lang][kind])
        rows.append((label, {name: percent(a[kind]) for name, a in vqa_accuracy.items()}))
    rows.append((names["hallucination"], {name: percent(v) for name, v in hallucination.items()}))
    rows.append((names["parameters"], {name: f"{count:,}" for name, count in parameters.items()}))
    rows.append((names["latency"], {name: f"{ms:.1f}" for name, ms in latency_ms.items()}))
    rows.append((names["task"], {name: task_name(lang, task) for name, (task, _) in TASKS.items()}))
    return rows


@markdown("comparing-table")
def comparison_table(lang: str) -> str:
    lines = ["| " + " | ".join(HEADERS[lang]) + " |", "| --- |" + " ---: |" * len(MODELS)]
    for label, cells in table_rows(lang):
        lines.append(f"| {label} | " + " | ".join(cells.get(name, MISSING) for name in MODELS) + " |")
    return "\n".join(lines)


def cpu_name() -> str:
    """Return the CPU model from /proc/cpuinfo on Linux, else what `platform` reports."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


@markdown("comparing-machine")
def machine(lang: str) -> str:
    return f"{cpu_name()} ({platform.machine()}), torch {torch.__version__}, 1 thread"


@markdown("comparing-num-scenes")
def num_scenes(lang: str) -> str:
    return str(NUM_SCENES)


@markdown("comparing-retrieval-pool")
def retrieval_pool(lang: str) -> str:
    # The pools are RETRIEVAL_POOL scenes each, or fewer when fewer scenes are evaluated.
    return str(min(RETRIEVAL_POOL, len(scenes)))


@markdown("comparing-parameter-range")
def parameter_range(lang: str) -> str:
    smallest, largest = min(parameters.values()), max(parameters.values())
    if lang == "ko":
        return f"{smallest / 10_000:.0f}만–{largest / 10_000:.0f}만"
    return f"{smallest / 1000:.0f}K–{largest / 1000:.0f}K"


@markdown("comparing-num-classes")
def num_classes(lang: str) -> str:
    return str(len(CLASSES))


@markdown("comparing-num-prompts")
def num_prompts(lang: str) -> str:
    return str(len(PROMPTS))


@markdown("comparing-num-questions")
def num_questions(lang: str) -> str:
    return str(len(questions))


@markdown("comparing-latency-samples")
def latency_samples(lang: str) -> str:
    return str(LATENCY_SAMPLES)


@markdown("comparing-clip-zero-shot")
def clip_zero_shot(lang: str) -> str:
    return percent(zero_shot["clip"])


@markdown("comparing-itm-zero-shot")
def itm_zero_shot(lang: str) -> str:
    return percent(zero_shot["blip-itm"])


@markdown("comparing-clip-t2i-r1")
def clip_t2i_r1(lang: str) -> str:
    return percent(retrieval["clip"]["t2i_r1"])


@markdown("comparing-itm-t2i-r1")
def itm_t2i_r1(lang: str) -> str:
    return percent(retrieval["blip-itm"]["t2i_r1"])


@markdown("comparing-classify-slowdown")
def classify_slowdown(lang: str) -> str:
    return f"{latency_ms['blip-itm'] / latency_ms['clip']:.1f}"


@markdown("comparing-vqa-summary")
def vqa_summary(lang: str) -> str:
    """Write a sentence with the number of question kinds on which each VQA model was more accurate."""
    blip_wins = [k for k in KINDS if vqa_accuracy["blip-vqa"][k] > vqa_accuracy["llava"][k]]
    llava_wins = [k for k in KINDS if vqa_accuracy["llava"][k] > vqa_accuracy["blip-vqa"][k]]
    names = KIND_NAMES[lang]
    if lang == "ko":
        blip_kinds = ", ".join(names[k] for k in blip_wins) or "없음"
        llava_kinds = ", ".join(names[k] for k in llava_wins) or "없음"
        return (f"같은 질문으로 보면 질문 종류 다섯 가지 가운데 BLIP VQA가 {len(blip_wins)}가지({blip_kinds}), "
                f"LLaVA가 {len(llava_wins)}가지({llava_kinds})에서 더 정확했습니다")
    return (f"of the five question kinds, BLIP VQA was more accurate on {len(blip_wins)} "
            f"({', '.join(blip_wins) or 'none'}) and LLaVA on {len(llava_wins)} "
            f"({', '.join(llava_wins) or 'none'})")


@markdown("comparing-caption-accuracy")
def caption_accuracy_text(lang: str) -> str:
    blip, llava = percent(caption_accuracy["blip-captioning"]["all"]), percent(caption_accuracy["llava"]["all"])
    return f"BLIP {blip}, LLaVA {llava}"


@markdown("comparing-llava-caption")
def llava_caption_sample(lang: str) -> str:
    return f'"{captions["llava"][0]}" ("{references[0]}")'


@markdown("comparing-hallucination")
def hallucination_text(lang: str) -> str:
    return f"BLIP VQA {percent(hallucination['blip-vqa'])}, LLaVA {percent(hallucination['llava'])}"


def majority_accuracy(kind: str) -> float:
    """Accuracy of always giving the most frequent answer of a question kind: a model that never looks."""
    kind_answers = [a for a, k in zip(answers, kinds) if k == kind]
    most_common = max(set(kind_answers), key=kind_answers.count)
    return kind_answers.count(most_common) / len(kind_answers)


@markdown("comparing-weakest-kind")
def weakest_kind(lang: str) -> str:
    """Return the question kind where the better model gains least over always giving the most frequent answer."""
    margins = {kind: max(vqa_accuracy[name][kind] for name in vqa_accuracy) - majority_accuracy(kind)
               for kind in KINDS}
    kind = min(margins, key=margins.get)
    return f"{KIND_NAMES[lang][kind]} ({percent(majority_accuracy(kind))})"


@markdown("comparing-latency-range")
def latency_range(lang: str) -> str:
    return f"{min(latency_ms.values()):.1f}–{max(latency_ms.values()):.1f} ms"


FIGURE_LABELS = {
    "ko": {"accuracy": "정확도", "majority": "가장 흔한 답만 말하기",
           "title": "질문 종류별 VQA 정확도 (test 장면 {scenes}개, 질문 {questions}개)",
           "parameters": "파라미터 수", "latency": "CPU 지연 시간 (ms, 로그 축)",
           "latency_title": "파라미터 수와 이미지 1장당 지연 시간 (1스레드)"},
    "en": {"accuracy": "accuracy", "majority": "always the most frequent answer",
           "title": "VQA accuracy by question kind ({scenes} test scenes, {questions} questions)",
           "parameters": "parameters", "latency": "CPU latency (ms, log scale)",
           "latency_title": "Parameters and latency per image (1 thread)"},
}
# Label positions in points from each point; BLIP VQA and LLaVA can sit close together.
LABEL_OFFSETS = {"clip": (8, 0), "blip-itm": (8, 0), "blip-captioning": (8, 0),
                 "blip-vqa": (8, -12), "llava": (-8, 16)}
MODEL_COLORS = {"clip": "#2e7d32", "blip-itm": "#3949ab", "blip-captioning": "#5c6bc0",
                "blip-vqa": "#1a237e", "llava": "#ef6c00"}


@figure("comparing-vqa-by-kind")
def draw_vqa_by_kind(lang: str):
    labels = FIGURE_LABELS[lang]
    x = np.arange(len(KINDS))
    fig, ax = plt.subplots(figsize=(8.0, 3.6))
    for offset, name, label in ((-0.2, "blip-vqa", "BLIP VQA"), (0.2, "llava", "LLaVA")):
        values = [vqa_accuracy[name][kind] for kind in KINDS]
        bars = ax.bar(x + offset, values, width=0.38, color=MODEL_COLORS[name], label=label)
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in values], fontsize=7)
    majority = [majority_accuracy(kind) for kind in KINDS]
    ax.scatter(x, majority, marker="_", s=900, color="#424242", linewidths=2, label=labels["majority"], zorder=3)
    ax.set_xticks(x, [KIND_NAMES[lang][kind] for kind in KINDS])
    ax.set_ylim(0, 1.15)
    ax.set_ylabel(labels["accuracy"])
    ax.set_title(labels["title"].format(scenes=NUM_SCENES, questions=len(questions)), fontsize=10)
    ax.legend(loc="upper right", fontsize=8, ncol=3)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


@figure("comparing-latency")
def draw_latency(lang: str):
    labels = FIGURE_LABELS[lang]
    fig, ax = plt.subplots(figsize=(7.0, 3.8))
    for name in MODELS:
        ax.scatter(parameters[name], latency_ms[name], s=60, color=MODEL_COLORS[name], zorder=3)
        task = task_name(lang, TASKS[name][0])
        ax.annotate(f"{HEADERS[lang][1 + MODELS.index(name)]}\n{task}", (parameters[name], latency_ms[name]),
                    textcoords="offset points", xytext=LABEL_OFFSETS[name], fontsize=8, va="center")
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # ticks at 5, 10, 20, 50, ... ms
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(0.8 * min(parameters.values()), 1.45 * max(parameters.values()))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value / 1000:.0f}K"))
    ax.set_xlabel(labels["parameters"])
    ax.set_ylabel(labels["latency"])
    ax.set_title(labels["latency_title"], fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return fig
# --8<-- [end:report]
