"""Generator: block diagrams of five ways to wire an image into a language model.

Each diagram is a list of boxes and arrows drawn with matplotlib, so the labels
follow the page's language. Blue boxes are frozen or given, orange boxes are
modules that training updates. The page embeds the `draw` section.
"""

# --8<-- [start:draw]
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from vlmbook.book import figure

FROZEN, TRAINED, DATA = "#d6e4f0", "#fbd5a8", "#eeeeee"


def draw_diagram(boxes: dict, arrows: list, width: float = 7.0, height: float = 4.2):
    """Draw boxes {name: (x, y, w, h, label, color)} and arrows [(from, to, label)] on a 10 x 6 canvas."""
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 6)
    ax.set_axis_off()
    for x, y, w, h, label, color in boxes.values():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05,rounding_size=0.12",
                                    facecolor=color, edgecolor="#37474f", linewidth=1))
        ax.text(x + w / 2, y + h / 2, label, ha="center", va="center", fontsize=8.5)
    for start, end, label in arrows:
        x0, y0, w0, h0 = boxes[start][:4]
        x1, y1, w1, h1 = boxes[end][:4]
        source, target = (x0 + w0 / 2, y0 + h0 / 2), (x1 + w1 / 2, y1 + h1 / 2)
        # Boxes in one column connect top to bottom, and boxes side by side connect side to side.
        if x0 < x1 + w1 and x1 < x0 + w0:
            upward = target[1] > source[1]
            source = (source[0], y0 + h0 if upward else y0)
            target = (target[0], y1 if upward else y1 + h1)
        else:
            rightward = target[0] > source[0]
            source = (x0 + w0 if rightward else x0, source[1])
            target = (x1 if rightward else x1 + w1, target[1])
        ax.add_patch(FancyArrowPatch(source, target, arrowstyle="-|>", mutation_scale=11,
                                     color="#37474f", linewidth=1, shrinkA=2, shrinkB=2))
        if label:
            # A third of the way along, so two crossing arrows keep their labels apart.
            spot = (source[0] + (target[0] - source[0]) / 3, source[1] + (target[1] - source[1]) / 3)
            ax.text(spot[0] + 0.08, spot[1], label, fontsize=7.5, color="#bf360c", ha="left", va="center",
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
    fig.tight_layout(pad=0.2)
    return fig
# --8<-- [end:draw]


WORDS = {
    "ko": {
        "image": "이미지", "text": "텍스트 토큰", "vit": "비전 인코더", "vit_frozen": "비전 인코더 (고정)",
        "patches": "패치 토큰", "self": "셀프 어텐션", "cross": "교차 어텐션", "ffn": "피드포워드",
        "fused": "이미지를 읽은 텍스트", "lm_frozen": "언어 모델 층 (고정)", "next": "다음 토큰",
        "co_img": "교차 어텐션\nQ: 이미지, K·V: 텍스트", "co_txt": "교차 어텐션\nQ: 텍스트, K·V: 이미지",
        "img_out": "이미지 스트림 출력", "txt_out": "텍스트 스트림 출력",
        "resampler": "퍼시버 리샘플러", "visual": "시각 토큰", "gated": "게이트 교차 어텐션\n× tanh(α), α=0에서 시작",
        "queries": "학습되는 쿼리 32개", "qformer": "Q-Former\n셀프 어텐션 + 교차 어텐션", "out32": "시각 토큰 32개",
        "linear": "선형 투영", "llm_frozen": "언어 모델 (고정)", "projector": "프로젝터 (MLP)",
        "embed": "단어 임베딩", "concat": "[이미지 토큰; 텍스트 토큰]", "lm": "언어 모델 (1단계에서 고정)\n인과 셀프 어텐션",
        "kv": "K, V", "kv_txt": "K, V", "x_layers": "× N층",
    },
    "en": {
        "image": "image", "text": "text tokens", "vit": "vision encoder", "vit_frozen": "vision encoder (frozen)",
        "patches": "patch tokens", "self": "self-attention", "cross": "cross-attention", "ffn": "feed-forward",
        "fused": "text that has read the image", "lm_frozen": "language model layer (frozen)", "next": "next token",
        "co_img": "cross-attention\nQ: image, K·V: text", "co_txt": "cross-attention\nQ: text, K·V: image",
        "img_out": "image stream output", "txt_out": "text stream output",
        "resampler": "Perceiver Resampler", "visual": "visual tokens", "gated": "gated cross-attention\n× tanh(α), α starts at 0",
        "queries": "32 learned queries", "qformer": "Q-Former\nself-attention + cross-attention", "out32": "32 visual tokens",
        "linear": "linear projection", "llm_frozen": "language model (frozen)", "projector": "projector (MLP)",
        "embed": "word embeddings", "concat": "[image tokens; text tokens]", "lm": "language model (frozen in stage 1)\ncausal self-attention",
        "kv": "K, V", "kv_txt": "K, V", "x_layers": "× N layers",
    },
}


@figure("attention-wiring-co-attention")
def draw_co_attention(lang: str):
    w = WORDS[lang]
    boxes = {
        "image": (0.6, 0.3, 3.2, 0.8, w["patches"], DATA),
        "text": (6.2, 0.3, 3.2, 0.8, w["text"], DATA),
        "co_img": (0.6, 2.2, 3.2, 1.2, w["co_img"], TRAINED),
        "co_txt": (6.2, 2.2, 3.2, 1.2, w["co_txt"], TRAINED),
        "img_out": (0.6, 4.6, 3.2, 0.8, w["img_out"], DATA),
        "txt_out": (6.2, 4.6, 3.2, 0.8, w["txt_out"], DATA),
    }
    arrows = [("image", "co_img", "Q"), ("text", "co_txt", "Q"), ("text", "co_img", w["kv_txt"]),
              ("image", "co_txt", w["kv"]), ("co_img", "img_out", ""), ("co_txt", "txt_out", "")]
    return draw_diagram(boxes, arrows)


@figure("attention-wiring-fusion-encoder")
def draw_fusion_encoder(lang: str):
    w = WORDS[lang]
    boxes = {
        "image": (0.4, 0.3, 2.6, 0.7, w["image"], DATA),
        "vit": (0.4, 1.6, 2.6, 0.8, w["vit"], TRAINED),
        "patches": (0.4, 3.1, 2.6, 0.7, w["patches"], DATA),
        "text": (5.2, 0.1, 3.6, 0.6, w["text"], DATA),
        "self": (5.2, 1.2, 3.6, 0.7, w["self"], TRAINED),
        "cross": (5.2, 2.5, 3.6, 0.7, w["cross"], TRAINED),
        "ffn": (5.2, 3.8, 3.6, 0.7, w["ffn"], TRAINED),
        "fused": (5.2, 5.0, 3.6, 0.6, w["fused"], DATA),
    }
    arrows = [("image", "vit", ""), ("vit", "patches", ""), ("text", "self", ""), ("self", "cross", "Q"),
              ("patches", "cross", w["kv"]), ("cross", "ffn", ""), ("ffn", "fused", w["x_layers"])]
    return draw_diagram(boxes, arrows)


@figure("attention-wiring-gated")
def draw_gated(lang: str):
    w = WORDS[lang]
    boxes = {
        "image": (0.3, 0.1, 2.8, 0.6, w["image"], DATA),
        "vit": (0.3, 1.2, 2.8, 0.7, w["vit_frozen"], FROZEN),
        "resampler": (0.3, 2.4, 2.8, 0.7, w["resampler"], TRAINED),
        "visual": (0.3, 3.6, 2.8, 0.6, w["visual"], DATA),
        "text": (5.0, 0.1, 4.0, 0.6, w["text"], DATA),
        "gated": (5.0, 1.2, 4.0, 1.0, w["gated"], TRAINED),
        "lm": (5.0, 2.8, 4.0, 0.8, w["lm_frozen"], FROZEN),
        "next": (5.0, 4.9, 4.0, 0.6, w["next"], DATA),
    }
    arrows = [("image", "vit", ""), ("vit", "resampler", ""), ("resampler", "visual", ""),
              ("text", "gated", "Q"), ("visual", "gated", w["kv"]), ("gated", "lm", ""),
              ("lm", "next", w["x_layers"])]
    return draw_diagram(boxes, arrows)


@figure("attention-wiring-q-former")
def draw_q_former(lang: str):
    w = WORDS[lang]
    boxes = {
        "image": (0.3, 0.1, 2.8, 0.6, w["image"], DATA),
        "vit": (0.3, 1.3, 2.8, 0.7, w["vit_frozen"], FROZEN),
        "patches": (0.3, 2.7, 2.8, 0.7, w["patches"], DATA),
        "queries": (5.0, 0.1, 4.0, 0.6, w["queries"], TRAINED),
        "qformer": (5.0, 1.3, 4.0, 1.0, w["qformer"], TRAINED),
        "out32": (5.0, 2.9, 4.0, 0.6, w["out32"], DATA),
        "linear": (5.0, 3.9, 4.0, 0.6, w["linear"], TRAINED),
        "llm": (5.0, 5.0, 4.0, 0.7, w["llm_frozen"], FROZEN),
    }
    arrows = [("image", "vit", ""), ("vit", "patches", ""), ("queries", "qformer", "Q"),
              ("patches", "qformer", w["kv"]), ("qformer", "out32", ""), ("out32", "linear", ""), ("linear", "llm", "")]
    return draw_diagram(boxes, arrows)


@figure("attention-wiring-projector")
def draw_projector(lang: str):
    w = WORDS[lang]
    boxes = {
        "image": (0.3, 0.1, 2.8, 0.6, w["image"], DATA),
        "vit": (0.3, 1.2, 2.8, 0.7, w["vit_frozen"], FROZEN),
        "projector": (0.3, 2.4, 2.8, 0.7, w["projector"], TRAINED),
        "text": (6.6, 0.1, 2.8, 0.6, w["text"], DATA),
        "embed": (6.6, 1.2, 2.8, 0.7, w["embed"], FROZEN),
        "concat": (2.4, 3.6, 5.2, 0.7, w["concat"], DATA),
        "lm": (2.9, 4.8, 4.2, 0.9, w["lm"], FROZEN),
    }
    arrows = [("image", "vit", ""), ("vit", "projector", ""), ("text", "embed", ""),
              ("projector", "concat", ""), ("embed", "concat", ""), ("concat", "lm", "")]
    return draw_diagram(boxes, arrows)
