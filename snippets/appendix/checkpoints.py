"""Generator: how each embedded checkpoint was trained, read from the records beside its weights.

`vlmbook train NAME --out vlmbook/embedded/NAME` writes `metrics.json` (the
command, the seed, the steps, the timing and the test metrics) and
`history.json` (one entry per evaluation during training). This file turns
them into the tables and training curves of the appendix page, so the page
always shows the checkpoints that ship with the package. A field that a
record lacks is shown as "-", and a checkpoint without `history.json` gets a
figure with the text "no history.json".

The quality bars come from `QUALITY_BARS` in tests/test_checkpoints_embedded.py,
the test that enforces them on the shipped records.
"""

# The build adds these files to this generator's cache key.
INPUT_FILES = ["tests/test_checkpoints_embedded.py"]

import ast
import json
import math
from pathlib import Path

import matplotlib.pyplot as plt

from vlmbook.book import figure, markdown
from vlmbook.checkpoints import EMBEDDED_DIR, NAMES, PUBLIC_IDS
from vlmbook.recipes import get_recipe

# The build runs generators with the project root as working directory.
BARS_FILE = Path("tests/test_checkpoints_embedded.py")

MISSING = "-"

TEXT = {
    "ko": {
        "name": "체크포인트", "public": "같은 이름의 공개 체크포인트", "parameters": "파라미터 수",
        "steps": "학습 스텝", "seconds": "학습 시간(벽시계)", "cpu": "CPU 시간", "init": "시작점",
        "scratch": "처음부터", "batch": "배치 크기", "lr": "최대 학습률", "metric": "지표",
        "value": "기록된 값", "bar": "품질 기준", "status": "판정", "met": "달성", "missed": "미달",
        "no_bar": "기준 없음", "command": "재현 명령", "seed": "시드", "scenes": "평가 장면 수",
        "machine": "학습한 환경", "versions": "라이브러리 버전", "stopped": "멈춘 이유",
        "note": "기록에 남은 메모(원문)", "loss": "학습 손실", "step": "스텝",
        "eval": "학습 중 검증 지표", "no_history": "history.json이 없습니다",
        "no_record": "metrics.json이 없습니다", "field": "항목", "field_value": "값",
        "stopped_by": {"max_steps": "최대 스텝 도달", "max_seconds": "시간 예산 소진", "target": "목표 지표 도달"},
    },
    "en": {
        "name": "checkpoint", "public": "public checkpoint of the same name", "parameters": "parameters",
        "steps": "training steps", "seconds": "training time (wall clock)", "cpu": "CPU time", "init": "starts from",
        "scratch": "scratch", "batch": "batch size", "lr": "peak learning rate", "metric": "metric",
        "value": "recorded value", "bar": "quality bar", "status": "status", "met": "met", "missed": "missed",
        "no_bar": "no bar", "command": "command", "seed": "seed", "scenes": "test scenes evaluated",
        "machine": "trained on", "versions": "library versions", "stopped": "stopped by",
        "note": "note in the record", "loss": "training loss", "step": "step",
        "eval": "validation metric during training", "no_history": "no history.json",
        "no_record": "no metrics.json", "field": "field", "field_value": "value",
        "stopped_by": {"max_steps": "reached max steps", "max_seconds": "ran out of time", "target": "reached the target metric"},
    },
}

# Plain-language names of the metrics that the recipes record; an unknown key is shown as it is.
METRIC_NAMES = {
    "zero_shot_accuracy": ("제로샷 정확도 (색·모양 18개 클래스)", "zero-shot accuracy (18 color-shape classes)"),
    "t2i_r1": ("텍스트→이미지 검색 R@1", "text-to-image retrieval R@1"),
    "t2i_r5": ("텍스트→이미지 검색 R@5", "text-to-image retrieval R@5"),
    "i2t_r1": ("이미지→텍스트 검색 R@1", "image-to-text retrieval R@1"),
    "i2t_r5": ("이미지→텍스트 검색 R@5", "image-to-text retrieval R@5"),
    "attribute_accuracy": ("캡션의 속성 정확도", "attribute accuracy of the captions"),
    "color_accuracy": ("캡션의 색 정확도", "color accuracy of the captions"),
    "shape_accuracy": ("캡션의 모양 정확도", "shape accuracy of the captions"),
    "relation_accuracy": ("캡션의 관계 정확도", "relation accuracy of the captions"),
    "bleu4": ("BLEU-4", "BLEU-4"),
    "itm_roc_auc": ("매칭 점수의 ROC AUC", "ROC AUC of the match score"),
    "itm_accuracy": ("매칭 정확도", "matching accuracy"),
    "hallucination_rate": ("환각 비율 (없는 물체에 '예')", "hallucination rate ('yes' to an absent object)"),
}
KIND_NAMES = {
    "all": ("전체", "all"), "color": ("색", "color"), "count": ("개수", "count"), "exists": ("존재", "exists"),
    "position": ("위치", "position"), "shape": ("모양", "shape"),
}


def metric_name(key: str, lang: str) -> str:
    """Return a readable name of a metric key, e.g. vqa_accuracy_color -> "VQA accuracy: color"."""
    index = 0 if lang == "ko" else 1
    if key in METRIC_NAMES:
        return METRIC_NAMES[key][index]
    if key.startswith("heldout_"):
        label = ("처음 보는 조합", "held-out pairs")[index]
        return f"{metric_name(key.removeprefix('heldout_'), lang)}, {label}"
    for prefix, title in (("vqa_accuracy", ("VQA 정확도", "VQA accuracy")),
                          ("answer_accuracy", ("답 정확도", "answer accuracy"))):
        if key == prefix:
            return title[index]
        if key.startswith(prefix + "_"):
            kind = key.removeprefix(prefix + "_")
            return f"{title[index]}: {KIND_NAMES.get(kind, (kind, kind))[index]}"
    return key


def read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def read_quality_bars() -> dict[str, list[tuple[str, float]]]:
    """Return QUALITY_BARS from the embedded checkpoint test, without importing the test module."""
    if not BARS_FILE.is_file():
        return {}
    for node in ast.parse(BARS_FILE.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "QUALITY_BARS" for t in node.targets):
            return {name: [tuple(pair) for pair in bars] for name, bars in ast.literal_eval(node.value).items()}
    return {}


records = {name: read_json(EMBEDDED_DIR / name / "metrics.json") or {} for name in NAMES}
histories = {name: read_json(EMBEDDED_DIR / name / "history.json") or [] for name in NAMES}
settings = {name: get_recipe(name).settings for name in NAMES}
bars = read_quality_bars()


def cell(value, pattern: str = "{}") -> str:
    return MISSING if value is None else pattern.format(value)


def duration(seconds, lang: str) -> str:
    """Format seconds as minutes and seconds ("27 min 19 s", "27분 19초"); a missing value becomes "-"."""
    if seconds is None:
        return MISSING
    minutes, rest = divmod(round(seconds), 60)
    if lang == "ko":
        return f"{minutes}분 {rest:02d}초" if minutes else f"{rest}초"
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def format_metric(key: str, value: float) -> str:
    return f"{value:.3f}" if key == "bleu4" else f"{value:.1%}"


@markdown("checkpoints-summary")
def summary_table(lang: str) -> str:
    text = TEXT[lang]
    header = [text["name"], text["public"], text["parameters"], text["steps"], text["batch"], text["lr"],
              text["seconds"], text["cpu"], text["init"]]
    lines = ["| " + " | ".join(header) + " |", "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for name in NAMES:
        record = records[name]
        init_from = record.get("init_from")
        start = f"`{Path(init_from).name}`" if init_from else text["scratch"]
        lines.append(
            f"| [`{name}`](#{name}) | `{PUBLIC_IDS[name]}` | {cell(record.get('parameters'), '{:,}')} "
            f"| {cell(record.get('steps'), '{:,}')} | {settings[name].batch_size} | {settings[name].learning_rate:g} "
            f"| {duration(record.get('train_seconds'), lang)} | {duration(record.get('train_cpu_seconds'), lang)} | {start} |"
        )
    return "\n".join(lines)


def record_markdown(name: str, lang: str) -> str:
    """Write the command, run facts and metrics of one checkpoint as Markdown, with each quality bar."""
    text = TEXT[lang]
    record = records[name]
    if not record:
        return f"`vlmbook/embedded/{name}`: {text['no_record']}"
    parts = [f"```console\n{record.get('command', MISSING)}\n```", ""]

    versions = ", ".join(f"{library} {version}" for library, version in record.get("versions", {}).items())
    stopped = record.get("stopped_by")
    facts = [
        (text["seed"], cell(record.get("seed"))),
        (text["steps"], f"{cell(record.get('steps'), '{:,}')} / {cell(record.get('max_steps'), '{:,}')}"),
        (text["stopped"], text["stopped_by"].get(stopped, cell(stopped))),
        (text["seconds"], duration(record.get("train_seconds"), lang)),
        (text["cpu"], duration(record.get("train_cpu_seconds"), lang)),
        (text["scenes"], cell(record.get("eval_scenes"))),
        (text["machine"], cell(record.get("machine"))),
        (text["versions"], versions or MISSING),
    ]
    parts += [f"| {text['field']} | {text['field_value']} |", "| --- | --- |"] + [f"| {label} | {value} |" for label, value in facts]
    parts.append("")

    bar_of = dict(bars.get(name, []))
    parts += [f"| {text['metric']} | `metrics.json` | {text['value']} | {text['bar']} | {text['status']} |",
              "| --- | --- | ---: | ---: | --- |"]
    for key, value in record.get("metrics", {}).items():
        if key in bar_of:
            minimum = bar_of[key]
            status = text["met"] if value >= minimum else f"**{text['missed']}**"
            bar = f"≥ {format_metric(key, minimum)}"
        else:
            bar, status = MISSING, text["no_bar"]
        parts.append(f"| {metric_name(key, lang)} | `{key}` | {format_metric(key, value)} | {bar} | {status} |")
    for key, minimum in bar_of.items():  # a bar on a metric that the record lacks
        if key not in record.get("metrics", {}):
            parts.append(f"| {metric_name(key, lang)} | `{key}` | {MISSING} | ≥ {format_metric(key, minimum)} "
                         f"| **{text['missed']}** |")

    notes = [value for key, value in record.items() if key.endswith("note") and isinstance(value, str)]
    for note in notes:
        parts += ["", f'!!! note "{text["note"]}"', "", f"    {note}"]
    return "\n".join(parts)


def draw_history(name: str, lang: str):
    """Plot the training loss and the quick validation metrics of one run against the step."""
    text = TEXT[lang]
    history = histories[name]
    fig, (loss_ax, eval_ax) = plt.subplots(1, 2, figsize=(8, 2.8))
    if not history:
        for ax in (loss_ax, eval_ax):
            ax.text(0.5, 0.5, text["no_history"], ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
        return fig

    steps = [entry["step"] for entry in history]
    loss_ax.plot(steps, [entry.get("loss", math.nan) for entry in history], marker="o", markersize=3)
    loss_ax.set_yscale("log")
    loss_ax.set_title(text["loss"], fontsize=10)

    bookkeeping = {"step", "seconds", "eval_seconds", "loss", "lr"}
    metric_keys = sorted({key for entry in history for key in entry} - bookkeeping)
    for key in metric_keys:
        eval_ax.plot(steps, [entry.get(key, math.nan) for entry in history], marker="o", markersize=3,
                     label=metric_name(key, lang))
    eval_ax.set_ylim(0, 1.02)
    eval_ax.set_title(text["eval"], fontsize=10)
    if metric_keys:
        eval_ax.legend(fontsize=8, loc="lower right")
    for ax in (loss_ax, eval_ax):
        ax.set_xlabel(text["step"])
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def declare(name: str) -> None:
    """Declare the record table and the training curve figure of one checkpoint."""
    markdown(f"checkpoints-{name}-record")(lambda lang: record_markdown(name, lang))
    figure(f"checkpoints-{name}-curves")(lambda lang: draw_history(name, lang))


for checkpoint_name in NAMES:
    declare(checkpoint_name)
