"""Generator: the Performance appendix, read from the benchmark results in benchmarks/results/.

`make bench` runs every script in benchmarks/ and each one rewrites its
results file. This generator turns those files into the page's tables and
its figure of generator and notebook seconds. INPUT_FILES puts the results
files into the generator's cache key, so new results redraw the page at the
next build. A results file that is missing is reported on the page as not
measured, and a field that a file lacks is shown as "-".
"""

import json
import math
from datetime import datetime, timezone
from pathlib import Path

import matplotlib.pyplot as plt

from vlmbook.book import figure, markdown

INPUT_FILES = ["benchmarks/results/*.json"]

# The build runs generators with the project root as working directory.
RESULTS = Path("benchmarks/results")
MISSING = "-"
SLOWEST_SHOWN = 10

TEXT = {
    "ko": {
        "measurement": "측정", "wall": "벽시계 시간(초)", "cpu": "CPU 시간(초)",
        "ratio": "실행 없는 빌드 대비", "goal": "목표", "status": "판정", "met": "달성", "missed": "미달",
        "cold": "처음부터 빌드(캐시 없음)", "no_execution": "실행을 끈 빌드(기준)",
        "warm": "바뀐 것 없이 다시 빌드", "prose_edit": "본문 한 곳 수정 뒤 다시 빌드",
        "serve": "`mkdocs serve`: 저장부터 새 문장이 보일 때까지",
        "serve_dirty": "`mkdocs serve --dirty`: 바뀐 페이지만 다시 빌드",
        "under": "{value:.0f}초 미만", "at_most_ratio": "{value}배 이하", "about": "약 {value:.0f}초",
        "item": "생성기/노트북", "kind": "종류", "seconds": "초", "generator": "생성기", "notebook": "노트북",
        "total": "합계", "file": "결과 파일", "script": "스크립트", "date": "측정 일시", "machine": "환경",
        "not_recorded": "기록 없음", "not_measured": "측정 결과 없음(`make bench`로 측정)",
        "cpus": "CPU {value}개", "threads": "torch 스레드 {value}개", "yes": "예", "no": "아니요", "load": "부하 평균 {value}",
        "nice": "nice {value}", "commit": "커밋 {value}",
        "target": "목표 정확도", "reached": "도달", "seconds_to_target": "도달까지 학습 시간(초)",
        "steps": "스텝", "accuracy": "도달한 정확도", "fraction": "matmul 처리량 대비 달성 FLOP/s",
        "method": "방법", "scenes_per_second": "초당 장면 수",
        "vectorized_images": "벡터화 렌더러(이미지만)",
        "vectorized_full_scenes_with_text": "벡터화 렌더러(장면 객체와 문장 포함)",
        "pil_aliased": "PIL 루프(앨리어싱)", "pil_supersampled": "PIL 루프(4배 슈퍼샘플링)",
        "speedup_vs": "이 방법 대비 벡터화 렌더러(이미지만)의 배율", "at_most_seconds": "{value}초 이하", "model": "모델", "transformers_ms": "`transformers`(ms)",
        "fast_ms": "vlmbook 빠른 경로(ms)", "manual_ms": "vlmbook 수동 경로(ms)",
        "fast_ratio": "빠른 경로 / `transformers`", "with_cache": "캐시 사용(초)",
        "without_cache": "캐시 없음(초)", "speedup": "속도 향상", "x": "{value:.1f}배",
        "figure_x": "실행 시간(초, 벽시계)", "figure_title": "처음부터 빌드할 때 생성기와 노트북의 실행 시간",
        "recipe": "레시피", "steps_batch": "스텝 수 × 배치(장면)", "step_seconds": "스텝당 초",
        "projected": "예상 학습 시간(초)",
        "at_least_rate": "초당 장면 {value}개 이상", "at_least_speedup": "{value}배 이상",
    },
    "en": {
        "measurement": "measurement", "wall": "wall clock (s)", "cpu": "CPU time (s)",
        "ratio": "over the no-execution build", "goal": "goal", "status": "status", "met": "met",
        "missed": "missed",
        "cold": "cold build (empty caches)", "no_execution": "build with execution off (baseline)",
        "warm": "rebuild, nothing changed", "prose_edit": "rebuild after a prose edit",
        "serve": "`mkdocs serve`: from saving to the new sentence on the page",
        "serve_dirty": "`mkdocs serve --dirty`: rebuilds only the changed pages",
        "under": "under {value:.0f} s", "at_most_ratio": "at most {value}x", "about": "about {value:.0f} s",
        "item": "generator or notebook", "kind": "kind", "seconds": "seconds", "generator": "generator",
        "notebook": "notebook", "total": "total", "file": "results file", "script": "script",
        "date": "measured", "machine": "machine", "not_recorded": "not recorded",
        "not_measured": "not measured (run `make bench`)",
        "cpus": "{value} CPUs", "threads": "torch threads: {value}", "yes": "yes", "no": "no", "load": "load average {value}",
        "nice": "nice {value}", "commit": "commit {value}",
        "target": "target accuracy", "reached": "reached", "seconds_to_target": "training seconds to target",
        "steps": "steps", "accuracy": "accuracy reached", "fraction": "achieved FLOP/s over matmul throughput",
        "method": "method", "scenes_per_second": "scenes per second",
        "vectorized_images": "vectorized renderer (images only)",
        "vectorized_full_scenes_with_text": "vectorized renderer (with scene objects and text)",
        "pil_aliased": "PIL loop (aliased)", "pil_supersampled": "PIL loop (4x supersampled)",
        "speedup_vs": "vectorized (images only) speed-up over this method", "at_most_seconds": "at most {value} s", "model": "model", "transformers_ms": "`transformers` (ms)",
        "fast_ms": "vlmbook fast path (ms)", "manual_ms": "vlmbook manual path (ms)",
        "fast_ratio": "fast path / `transformers`", "with_cache": "with cache (s)",
        "without_cache": "without cache (s)", "speedup": "speed-up", "x": "{value:.1f}x",
        "figure_x": "run time (s, wall clock)", "figure_title": "Generators and notebooks in a cold build",
        "recipe": "recipe", "steps_batch": "steps × batch (scenes)", "step_seconds": "seconds per step",
        "projected": "projected training time (s)",
        "at_least_rate": "at least {value} scenes/s", "at_least_speedup": "at least {value}x",
    },
}

# Results file -> the script in benchmarks/ that writes it.
SCRIPTS = {
    "build_speed.json": "build_speed.py",
    "clip.json": "clip_time_to_accuracy.py",
    "recipe_time.json": "recipe_time.py",
    "shapesworld.json": "shapesworld_throughput.py",
    "forward_speed.json": "forward_speed.py",
    "kv_cache.json": "kv_cache.py",
}


def load(name: str) -> dict | None:
    path = RESULTS / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def number(value, digits: int = 2) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return MISSING
    return f"{value:,.{digits}f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def status(met, text: dict) -> str:
    if not isinstance(met, bool):
        return MISSING
    return text["met"] if met else text["missed"]


def goal_met(value, goal, at_most: bool = True) -> bool:
    """Return whether `value` is at most (or, with at_most=False, at least) `goal`; False if either is missing."""
    if not (isinstance(value, (int, float)) and isinstance(goal, (int, float))):
        return False
    return value <= goal if at_most else value >= goal


def goal_status(results: dict, prefix: str, text: dict):
    """Return the met/missed word of the first goal whose name starts with `prefix`."""
    for name, met in results.get("goals", {}).items():
        if name.startswith(prefix):
            return status(met, text)
    return MISSING


def median(builds: list[dict], key: str):
    values = sorted(build[key] for build in builds if isinstance(build.get(key), (int, float)))
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


@markdown("performance-build-table")
def build_table(lang: str) -> str:
    text = TEXT[lang]
    results = load("build_speed.json")
    if results is None:
        return text["not_measured"]
    ratios = results.get("ratios", {})
    cold = results.get("cold_build", {})
    serve = results.get("serve_round_trip_median_s")
    header = [text["measurement"], text["wall"], text["cpu"], text["ratio"], text["goal"], text["status"]]
    rows = [
        [text["cold"], number(cold.get("wall_s"), 1), number(cold.get("cpu_s"), 1), MISSING,
         text["under"].format(value=300), goal_status(results, "cold build", text)],
        [text["no_execution"], number(median(results.get("no_execution_builds", []), "wall_s"), 1),
         number(median(results.get("no_execution_builds", []), "cpu_s"), 1), "1.00", MISSING, MISSING],
        [text["warm"], number(median(results.get("warm_builds", []), "wall_s"), 1),
         number(median(results.get("warm_builds", []), "cpu_s"), 1),
         number(ratios.get("warm_over_no_execution_wall")), text["at_most_ratio"].format(value=1.25),
         goal_status(results, "warm rebuild", text)],
        [text["prose_edit"], number(median(results.get("prose_edit_builds", []), "wall_s"), 1),
         number(median(results.get("prose_edit_builds", []), "cpu_s"), 1),
         number(ratios.get("prose_edit_over_no_execution_wall")), text["at_most_ratio"].format(value=1.25),
         goal_status(results, "prose-edit rebuild", text)],
        [text["serve"], number(serve), MISSING, MISSING, text["about"].format(value=1),
         goal_status(results, "serve round trip", text)],
    ]
    dirty = results.get("serve_dirty_round_trip_median_s")
    if dirty is not None:  # measured by build_speed.py since it learned --dirty
        rows.append([text["serve_dirty"], number(dirty), MISSING, MISSING, text["about"].format(value=1), MISSING])
    return table(header, rows)


def cold_items(results: dict | None) -> list[tuple[str, str, float]]:
    """Return (kind, name, seconds) of every generator and notebook in the cold build, slowest first."""
    if results is None:
        return []
    cold = results.get("cold_build", {})
    items = [("generator", item["name"], item["seconds"]) for item in cold.get("generators", [])]
    items += [("notebook", item["name"], item["seconds"]) for item in cold.get("notebooks", [])]
    return sorted(items, key=lambda item: -item[2])


@markdown("performance-slowest-table")
def slowest_table(lang: str) -> str:
    text = TEXT[lang]
    results = load("build_speed.json")
    items = cold_items(results)
    if not items:
        return text["not_measured"]
    rows = [[f"`{name}`", text[kind], number(seconds, 1)] for kind, name, seconds in items[:SLOWEST_SHOWN]]
    cold = results.get("cold_build", {})
    for kind, key in (("generator", "generator_seconds_total"), ("notebook", "notebook_seconds_total")):
        rows.append([f"{text['total']} ({text[kind]})", text[kind], number(cold.get(key), 1)])
    return table([text["item"], text["kind"], text["seconds"]], rows)


@figure("performance-generator-seconds")
def draw_generator_seconds(lang: str):
    text = TEXT[lang]
    items = cold_items(load("build_speed.json"))
    fig, ax = plt.subplots(figsize=(7, 0.22 * max(len(items), 4) + 1))
    if not items:
        ax.text(0.5, 0.5, text["not_measured"].replace("`", ""), ha="center", va="center")
        ax.set_axis_off()
        return fig
    shown = list(reversed(items))
    colors = ["tab:blue" if kind == "generator" else "tab:orange" for kind, _, _ in shown]
    ax.barh(range(len(shown)), [seconds for _, _, seconds in shown], color=colors)
    ax.set_yticks(range(len(shown)), [name for _, name, _ in shown], fontsize=7)
    ax.set_xlabel(text["figure_x"])
    ax.set_title(text["figure_title"])
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in ("tab:blue", "tab:orange")]
    ax.legend(handles, [text["generator"], text["notebook"]], loc="lower right")
    return fig


@markdown("performance-training-table")
def training_table(lang: str) -> str:
    text = TEXT[lang]
    results = load("clip.json")
    if results is None:
        return text["not_measured"]
    target = results.get("target_zero_shot_accuracy")
    header = [text["target"], text["reached"], text["seconds_to_target"], text["steps"], text["accuracy"],
              text["goal"], text["fraction"]]
    seconds = results.get("seconds_to_target")
    goal = results.get("goal_seconds")
    met = goal_met(seconds, goal)
    row = [
        f"{target:.0%}" if isinstance(target, (int, float)) else MISSING,
        text["yes"] if results.get("reached") is True else text["no"],
        number(seconds, 1),
        str(results.get("steps_to_target", MISSING)),
        number(results.get("zero_shot_accuracy"), 3),
        f"{text['at_most_seconds'].format(value=number(goal, 0))} ({status(met, text)})",
        number(results.get("fraction_of_matmul_throughput"), 2),
    ]
    return table(header, [row])


@markdown("performance-recipe-time-table")
def recipe_time_table(lang: str) -> str:
    text = TEXT[lang]
    results = load("recipe_time.json")
    if results is None:
        return text["not_measured"]
    goal = results.get("goal_seconds")
    rows = []
    for name, row in results.get("recipes", {}).items():
        projected = row.get("projected_seconds")
        met = goal_met(projected, goal)
        rows.append([
            f"`{name}`",
            f"{row.get('max_steps', MISSING)} × {row.get('batch_size', MISSING)}",
            number(row.get("seconds_per_step"), 3),
            number(projected, 1),
            f"{text['at_most_seconds'].format(value=number(goal, 0))} ({status(met, text)})",
        ])
    header = [text["recipe"], text["steps_batch"], text["step_seconds"], text["projected"], text["goal"]]
    return table(header, rows)


@markdown("performance-shapesworld-table")
def shapesworld_table(lang: str) -> str:
    text = TEXT[lang]
    results = load("shapesworld.json")
    if results is None:
        return text["not_measured"]
    rates = results.get("scenes_per_second", {})
    fastest = rates.get("vectorized_images")
    goals = results.get("goals", {})
    rows = []
    for method, rate in rates.items():
        speedup = fastest / rate if isinstance(fastest, (int, float)) and rate else None
        # Goals: a rate for the vectorized images, a speed-up over each PIL loop.
        if method == "vectorized_images" and "scenes_per_second" in goals:
            goal = goals["scenes_per_second"]
            goal_text = text["at_least_rate"].format(value=number(goal, 0))
            met = goal_met(rate, goal, at_most=False)
        elif method.startswith("pil_") and "speedup" in goals:
            goal = goals["speedup"]
            goal_text = text["at_least_speedup"].format(value=number(goal, 0))
            met = goal_met(speedup, goal, at_most=False)
        else:
            goal_text, met = None, None
        rows.append([text.get(method, method), number(rate, 0),
                     text["x"].format(value=speedup) if speedup is not None else MISSING,
                     f"{goal_text} ({status(met, text)})" if goal_text else MISSING])
    return table([text["method"], text["scenes_per_second"], text["speedup_vs"], text["goal"]], rows)


@markdown("performance-forward-table")
def forward_table(lang: str) -> str:
    text = TEXT[lang]
    results = load("forward_speed.json")
    if results is None:
        return text["not_measured"]
    goal = results.get("goal_fast_over_transformers")
    rows = []
    for model, row in results.get("models", {}).items():
        ratio = row.get("fast_ratio")
        met = goal_met(ratio, goal)
        rows.append([model, number(row.get("transformers_ms"), 1), number(row.get("fast_ms"), 1),
                     number(row.get("manual_ms"), 1), number(ratio), f"≤ {number(goal, 1)} ({status(met, text)})"])
    header = [text["model"], text["transformers_ms"], text["fast_ms"], text["manual_ms"], text["fast_ratio"],
              text["goal"]]
    return table(header, rows)


@markdown("performance-kv-table")
def kv_table(lang: str) -> str:
    text = TEXT[lang]
    results = load("kv_cache.json")
    if results is None:
        return text["not_measured"]
    goal = results.get("goal_speedup")
    rows = []
    for model, row in results.get("models", {}).items():
        speedup = row.get("speedup")
        met = goal_met(speedup, goal, at_most=False)
        rows.append([model, number(row.get("with_cache_s")), number(row.get("without_cache_s")),
                     text["x"].format(value=speedup) if isinstance(speedup, (int, float)) else MISSING,
                     f"≥ {number(goal, 1)} ({status(met, text)})"])
    header = [text["model"], text["with_cache"], text["without_cache"], text["speedup"], text["goal"]]
    return table(header, rows)


def describe_machine(results: dict, text: dict) -> str:
    """Return what a results file records about the machine and the run, in the page's language."""
    machine = results.get("machine")
    parts = []
    if isinstance(machine, dict):
        if machine.get("processor"):
            parts.append(str(machine["processor"]))
        if machine.get("cpus"):
            parts.append(text["cpus"].format(value=machine["cpus"]))
        load_average = machine.get("load_average_start", machine.get("load_average_1min"))
        if isinstance(load_average, list):
            load_average = load_average[0]
        if isinstance(load_average, (int, float)):
            parts.append(text["load"].format(value=f"{load_average:.1f}"))
    elif isinstance(machine, str):
        parts.append(machine)
        if results.get("cpu_count"):
            parts.append(text["cpus"].format(value=results["cpu_count"]))
    if results.get("threads"):
        parts.append(text["threads"].format(value=results["threads"]))
    if "nice" in results:
        parts.append(text["nice"].format(value=results["nice"]))
    if results.get("commit"):
        parts.append(text["commit"].format(value=f"`{results['commit']}`"))
    return ", ".join(parts) or text["not_recorded"]


def format_date(value, text: dict) -> str:
    """Return an ISO 8601 timestamp as minutes in UTC, or "not recorded"."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return text["not_recorded"]
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


@markdown("performance-sources-table")
def sources_table(lang: str) -> str:
    text = TEXT[lang]
    rows = []
    for name, script in SCRIPTS.items():
        results = load(name)
        if results is None:
            rows.append([f"`benchmarks/results/{name}`", f"`benchmarks/{script}`", text["not_measured"], MISSING])
            continue
        date = format_date(results.get("date"), text)
        rows.append([f"`benchmarks/results/{name}`", f"`benchmarks/{script}`", date,
                     describe_machine(results, text)])
    return table([text["file"], text["script"], text["date"], text["machine"]], rows)
