"""Generator: one block diagram for each of the four families of VLM designs.

Every diagram shows the same ShapesWorld scene and text, so the four differ
only in where the image and the text meet. The page embeds the `helpers`
section and one section per design.
"""

# --8<-- [start:helpers]
import textwrap

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

from vlmbook import ShapesWorld
from vlmbook.book import figure

# Scene 7 of the train split contains one large yellow circle.
SCENE = ShapesWorld(split="train", image_size=64, seed=0)[7]
CAPTION = SCENE.captions[0]  # "a large yellow circle"

# Fill and edge color per kind of box: the vision side, the text side,
# where the two meet, the output, and raw input.
COLORS = {
    "vision": ("#dbe8ff", "#2f5fb3"),
    "text": ("#ffe6cc", "#c46a00"),
    "joint": ("#eadcf7", "#7a3fb0"),
    "output": ("#dff3e0", "#2e7d32"),
    "input": ("#ffffff", "#777777"),
}
WIDTH, HEIGHT = 12.0, 4.6  # canvas in data units, equal in x and y


def new_canvas(title: str):
    """Return a figure and an empty axes with equal data units in x and y."""
    fig, ax = plt.subplots(figsize=(8.4, 8.4 * HEIGHT / WIDTH))
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(0, HEIGHT)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title, fontsize=10.5)
    return fig, ax


def draw_box(ax, center, text, kind, width=2.2, height=0.95):
    """Draw a rounded box with centered text and return (x0, y0, x1, y1)."""
    x, y = center
    fill, edge = COLORS[kind]
    corner = (x - width / 2, y - height / 2)
    ax.add_patch(FancyBboxPatch(
        corner, width, height, boxstyle="round,pad=0.04,rounding_size=0.12",
        facecolor=fill, edgecolor=edge, linewidth=1.3,
    ))
    ax.text(x, y, text, ha="center", va="center", fontsize=9.5)
    return (corner[0], corner[1], corner[0] + width, corner[1] + height)


def draw_image(ax, center, size=1.3):
    """Draw the scene as a square thumbnail and return its bounds."""
    x0, y0 = center[0] - size / 2, center[1] - size / 2
    ax.imshow(SCENE.image, extent=(x0, x0 + size, y0, y0 + size), zorder=2)
    ax.add_patch(plt.Rectangle((x0, y0), size, size, fill=False,
                               edgecolor="#777777", zorder=3))
    return (x0, y0, x0 + size, y0 + size)


def draw_arrow(ax, start, end, label=None, dashed=False, offset=(0, 0.18)):
    """Draw an arrow from `start` to `end`, with a label at its middle."""
    style = {"arrowstyle": "-|>", "color": "#333333", "linewidth": 1.2,
             "linestyle": "--" if dashed else "-", "shrinkA": 2, "shrinkB": 2}
    ax.annotate("", xy=end, xytext=start, arrowprops=style)
    if label:
        x = (start[0] + end[0]) / 2 + offset[0]
        y = (start[1] + end[1]) / 2 + offset[1]
        ax.text(x, y, label, ha="center", va="bottom", fontsize=8.5)


# Anchor points on the edges of a box's bounds, where arrows start and end.
def right(bounds):
    return (bounds[2], (bounds[1] + bounds[3]) / 2)


def left(bounds):
    return (bounds[0], (bounds[1] + bounds[3]) / 2)


def top(bounds, at=0.5):
    return (bounds[0] + at * (bounds[2] - bounds[0]), bounds[3])


def bottom(bounds, at=0.5):
    return (bounds[0] + at * (bounds[2] - bounds[0]), bounds[1])
# --8<-- [end:helpers]


# --8<-- [start:dual-encoder]
DUAL_ENCODER = {
    "ko": {
        "title": "듀얼 인코더 (CLIP): 두 타워는 마지막 내적에서만 만납니다",
        "vision": "비전 인코더\n(ViT)",
        "text": "텍스트 인코더\n(트랜스포머)",
        "image_embed": "이미지 임베딩 v",
        "text_embed": "텍스트 임베딩 t",
        "score": "코사인 유사도\nv·t / (|v| |t|)",
    },
    "en": {
        "title": "Dual encoder (CLIP): the towers meet only in a dot product",
        "vision": "Vision encoder\n(ViT)",
        "text": "Text encoder\n(Transformer)",
        "image_embed": "image embedding v",
        "text_embed": "text embedding t",
        "score": "cosine similarity\nv·t / (|v| |t|)",
    },
}


@figure("design-dual-encoder")
def draw_dual_encoder(lang: str):
    labels = DUAL_ENCODER[lang]
    fig, ax = new_canvas(labels["title"])

    # Two separate towers, one per modality.
    image = draw_image(ax, (1.0, 3.4))
    vision = draw_box(ax, (3.9, 3.4), labels["vision"], "vision")
    image_embed = draw_box(ax, (6.9, 3.4), labels["image_embed"], "vision",
                           width=2.7)
    caption = textwrap.fill(CAPTION, 14)
    text = draw_box(ax, (1.0, 1.2), caption, "input", width=1.9)
    text_tower = draw_box(ax, (3.9, 1.2), labels["text"], "text")
    text_embed = draw_box(ax, (6.9, 1.2), labels["text_embed"], "text",
                          width=2.7)
    for source, target in [(image, vision), (vision, image_embed),
                           (text, text_tower), (text_tower, text_embed)]:
        draw_arrow(ax, right(source), left(target))

    # One number per (image, text) pair, the only place the two meet.
    score = draw_box(ax, (10.2, 2.3), labels["score"], "joint",
                     width=2.4, height=1.1)
    draw_arrow(ax, right(image_embed), top(score, 0.3))
    draw_arrow(ax, right(text_embed), bottom(score, 0.3))
    return fig
# --8<-- [end:dual-encoder]


# --8<-- [start:fusion-encoder]
FUSION_ENCODER = {
    "ko": {
        "title": "융합 인코더 (ALBEF, BLIP의 ITM): "
                 "텍스트가 교차 어텐션으로 이미지를 읽습니다",
        "vision": "비전 인코더\n(ViT)",
        "patches": "패치 임베딩\n(N_patch개)",
        "text": "텍스트 인코더\n(셀프 어텐션)",
        "fusion": "융합 인코더\n셀프 어텐션 +\n교차 어텐션",
        "head": "일치 점수 (ITM)\n맞음 / 안 맞음",
    },
    "en": {
        "title": "Fusion encoder (ALBEF, BLIP's ITM): "
                 "the text reads the image by cross-attention",
        "vision": "Vision encoder\n(ViT)",
        "patches": "patch embeddings\n(N_patch of them)",
        "text": "Text encoder\n(self-attention)",
        "fusion": "Fusion encoder\nself-attention +\ncross-attention",
        "head": "match score (ITM)\nmatch / no match",
    },
}


@figure("design-fusion-encoder")
def draw_fusion_encoder(lang: str):
    labels = FUSION_ENCODER[lang]
    fig, ax = new_canvas(labels["title"])

    # The image side keeps every patch embedding, not one pooled vector.
    image = draw_image(ax, (1.0, 3.5))
    vision = draw_box(ax, (3.9, 3.5), labels["vision"], "vision")
    patches = draw_box(ax, (7.2, 3.5), labels["patches"], "vision",
                       width=2.4)
    draw_arrow(ax, right(image), left(vision))
    draw_arrow(ax, right(vision), left(patches))

    # The text side: text tokens attend to each other, then to the patches.
    caption = textwrap.fill(CAPTION, 14)
    text = draw_box(ax, (1.0, 1.1), caption, "input", width=1.9)
    text_tower = draw_box(ax, (3.9, 1.1), labels["text"], "text")
    fusion = draw_box(ax, (7.2, 1.1), labels["fusion"], "joint",
                      width=2.4, height=1.3)
    head = draw_box(ax, (10.5, 1.1), labels["head"], "output",
                    width=2.3, height=1.0)
    draw_arrow(ax, right(text), left(text_tower))
    draw_arrow(ax, right(text_tower), left(fusion), "Q")
    draw_arrow(ax, bottom(patches), top(fusion), "K, V", offset=(0.4, -0.1))
    draw_arrow(ax, right(fusion), left(head))
    return fig
# --8<-- [end:fusion-encoder]


# --8<-- [start:encoder-decoder]
ENCODER_DECODER = {
    "ko": {
        "title": "인코더-디코더 (BLIP 캡셔너): "
                 "디코더가 이미지를 보며 한 토큰씩 씁니다",
        "vision": "비전 인코더\n(ViT)",
        "patches": "패치 임베딩\n(N_patch개)",
        "decoder": "텍스트 디코더\n인과적 셀프 어텐션 +\n교차 어텐션",
        "so_far": "지금까지의 토큰",
        "next": "다음 토큰",
        "loop": "다음 단계의 입력에 붙입니다",
    },
    "en": {
        "title": "Encoder-decoder (BLIP's captioner): "
                 "the decoder writes one token at a time",
        "vision": "Vision encoder\n(ViT)",
        "patches": "patch embeddings\n(N_patch of them)",
        "decoder": "Text decoder\ncausal self-attention +\ncross-attention",
        "so_far": "tokens so far",
        "next": "next token",
        "loop": "appended to the next step's input",
    },
}


@figure("design-encoder-decoder")
def draw_encoder_decoder(lang: str):
    labels = ENCODER_DECODER[lang]
    fig, ax = new_canvas(labels["title"])
    *prefix, next_word = CAPTION.split()

    # Encoder: the image becomes patch embeddings once.
    image = draw_image(ax, (1.0, 3.5))
    vision = draw_box(ax, (3.9, 3.5), labels["vision"], "vision")
    patches = draw_box(ax, (7.2, 3.5), labels["patches"], "vision",
                       width=2.4)
    draw_arrow(ax, right(image), left(vision))
    draw_arrow(ax, right(vision), left(patches))

    # Decoder: from the tokens so far and the patches, the next token.
    so_far_text = f"{labels['so_far']}\n[DEC] {' '.join(prefix)}"
    so_far = draw_box(ax, (1.6, 1.1), so_far_text, "input", width=2.9)
    decoder = draw_box(ax, (7.2, 1.1), labels["decoder"], "joint",
                       width=2.8, height=1.3)
    next_text = f"{labels['next']}\n\"{next_word}\""
    next_token = draw_box(ax, (10.6, 1.1), next_text, "output", width=1.9)
    draw_arrow(ax, right(so_far), left(decoder))
    draw_arrow(ax, bottom(patches), top(decoder), "K, V", offset=(0.4, -0.1))
    draw_arrow(ax, right(decoder), left(next_token))

    # The loop: the predicted token goes back into the decoder's input.
    loop_y = 0.2
    (start_x, start_y), (end_x, end_y) = bottom(next_token), bottom(so_far)
    ax.plot([start_x, start_x, end_x], [start_y, loop_y, loop_y],
            linestyle="--", color="#777777")
    draw_arrow(ax, (end_x, loop_y), (end_x, end_y), dashed=True)
    ax.text((start_x + end_x) / 2, loop_y - 0.08, labels["loop"],
            ha="center", va="top", fontsize=8.5, color="#555555")
    return fig
# --8<-- [end:encoder-decoder]


# --8<-- [start:projector-llm]
PROJECTOR_LLM = {
    "ko": {
        "title": "비전 인코더 + 프로젝터 + 언어 모델 (LLaVA): "
                 "이미지가 언어 모델의 토큰이 됩니다",
        "vision": "비전 인코더\n(CLIP ViT)",
        "projector": "프로젝터\n(선형 층 또는 MLP)",
        "image_tokens": "이미지 토큰",
        "text_tokens": "텍스트 토큰",
        "llm": "언어 모델\n(디코더)",
        "answer": "답",
    },
    "en": {
        "title": "Vision encoder + projector + language model (LLaVA): "
                 "the image becomes LLM tokens",
        "vision": "Vision encoder\n(CLIP ViT)",
        "projector": "Projector\n(linear or MLP)",
        "image_tokens": "image tokens",
        "text_tokens": "text tokens",
        "llm": "Language model\n(decoder)",
        "answer": "answer",
    },
}


@figure("design-projector-llm")
def draw_projector_llm(lang: str):
    labels = PROJECTOR_LLM[lang]
    fig, ax = new_canvas(labels["title"])
    qa = SCENE.questions[0]  # a color question

    # Vision side: patch features, mapped to the language model's width.
    image = draw_image(ax, (0.8, 3.5))
    vision = draw_box(ax, (2.6, 3.5), labels["vision"], "vision", width=2.0)
    projector = draw_box(ax, (5.2, 3.5), labels["projector"], "vision",
                         width=2.5)
    draw_arrow(ax, right(image), left(vision))
    draw_arrow(ax, right(vision), left(projector))

    # One input sequence: projected image tokens, then the question's tokens.
    image_tokens, text_tokens = 5, 4
    start_x, y, side, gap = 4.3, 1.7, 0.32, 0.05
    for index in range(image_tokens + text_tokens):
        fill, edge = COLORS["vision" if index < image_tokens else "text"]
        corner = (start_x + index * (side + gap), y - side / 2)
        ax.add_patch(plt.Rectangle(corner, side, side,
                                   facecolor=fill, edgecolor=edge))
    image_end = start_x + image_tokens * (side + gap)
    sequence_end = image_end + text_tokens * (side + gap)
    image_middle = (start_x + image_end) / 2
    text_middle = (image_end + sequence_end) / 2
    ax.text(image_middle, y - 0.3, labels["image_tokens"],
            ha="center", va="top", fontsize=8.5)
    ax.text(text_middle, y + 0.3, labels["text_tokens"],
            ha="center", va="bottom", fontsize=8.5)
    question = draw_box(ax, (text_middle + 0.4, 0.45), qa.question, "input",
                        width=2.9, height=0.6)
    draw_arrow(ax, (image_middle, projector[1]), (image_middle, y + side / 2))
    draw_arrow(ax, (question[0] + 0.6, question[3]),
               (text_middle, y - side / 2))

    # The language model reads the whole sequence and writes the answer.
    llm = draw_box(ax, (9.15, y), labels["llm"], "joint",
                   width=2.2, height=1.1)
    answer_text = f"{labels['answer']}\n\"{qa.answer}\""
    answer = draw_box(ax, (11.3, y), answer_text, "output", width=1.3)
    draw_arrow(ax, (sequence_end, y), left(llm))
    draw_arrow(ax, right(llm), left(answer))
    return fig
# --8<-- [end:projector-llm]
