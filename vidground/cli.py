"""The ``vidground`` command line: a thin shell over the library.

Each command parses its flags, calls the library, and renders. Errors are mapped to exit codes in one place
(:func:`main`): 0 success, 2 bad input or missing model (a :class:`~vidground.errors.VidgroundError`), 1 an
unexpected failure (one short line; ``VIDGROUND_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from vidground.errors import ConfigError, VidgroundError
from vidground.output.timecodes import TimeStyle
from vidground.render import OutputFormat, render, result_issues
from vidground.settings import DecoderName, ResizeMode, Settings

logger = logging.getLogger(__name__)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Find when things happen in videos, and caption them with timestamps (Qwen2.5-VL).",
)
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)

# Sampling flags shared by inspect, locate, caption (qwen-vl-utils' knob names).
Fps = Annotated[float | None, typer.Option("--fps", help="Target sampling rate in frames per second [2.0].")]
NFrames = Annotated[int | None, typer.Option("--nframes", help="Sample exactly this many frames (rounded to even).")]
MinFrames = Annotated[int | None, typer.Option("--min-frames", help="Fewest frames to sample [4].")]
MaxFrames = Annotated[int | None, typer.Option("--max-frames", help="Most frames per model call [768].")]
MinPixels = Annotated[int | None, typer.Option("--min-pixels", help="Smallest frame area in pixels [12544].")]
MaxPixels = Annotated[int | None, typer.Option("--max-pixels", help="Largest frame area in pixels [602112].")]
TotalPixels = Annotated[int | None, typer.Option("--total-pixels", help="Pixel budget per call (= tokens x 784).")]
MaxTokens = Annotated[int | None, typer.Option("--max-tokens", help="Strict video-token budget per call [24576].")]
Start = Annotated[float | None, typer.Option("--start", help="Only look from this second on.")]
End = Annotated[float | None, typer.Option("--end", help="Only look up to this second.")]
Backend = Annotated[DecoderName | None, typer.Option("--backend", help="Video decoder \\[pyav].")]
Resize = Annotated[ResizeMode | None, typer.Option("--resize", help="Frame resize: reference (exact) or fast.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
VideoArg = Annotated[Path, typer.Argument(help="A video file.", show_default=False)]


def _settings() -> Settings:
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:  # one line per the error contract, naming each variable and its value
        problems = "; ".join(
            f"VIDGROUND_{'_'.join(map(str, e['loc'])).upper()}={e.get('input')!r}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid environment setting: {problems}") from exc


def _sampling(
    settings: Settings,
    *,
    fps: float | None,
    nframes: int | None,
    min_frames: int | None,
    max_frames: int | None,
    min_pixels: int | None,
    max_pixels: int | None,
    total_pixels: int | None,
    max_tokens: int | None,
    start: float | None,
    end: float | None,
) -> Any:
    """Flags over settings: a flag that was given wins, else the VIDGROUND_* setting."""
    from vidground.video.sampling import SamplingOptions

    if fps is not None and nframes is not None:
        raise ConfigError(f"give --fps or --nframes, not both (got --fps {fps} and --nframes {nframes})")

    return SamplingOptions(
        fps=None if nframes is not None else (fps if fps is not None else settings.fps),
        nframes=nframes,
        min_frames=min_frames if min_frames is not None else settings.min_frames,
        max_frames=max_frames if max_frames is not None else settings.max_frames,
        min_pixels=min_pixels if min_pixels is not None else settings.min_pixels,
        max_pixels=max_pixels if max_pixels is not None else settings.max_pixels,
        total_pixels=total_pixels,
        max_tokens=max_tokens if max_tokens is not None else settings.max_tokens,
        video_start=start,
        video_end=end,
    )


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A ``on_progress(stage, done, total)`` callback drawing bars on a terminal; None when piped or quiet."""
    if quiet or not err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:>9}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    ) as bars:
        tasks: dict[str, Any] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield on_progress


@app.command()
def inspect(
    video: VideoArg,
    fps: Fps = None,
    nframes: NFrames = None,
    min_frames: MinFrames = None,
    max_frames: MaxFrames = None,
    min_pixels: MinPixels = None,
    max_pixels: MaxPixels = None,
    total_pixels: TotalPixels = None,
    max_tokens: MaxTokens = None,
    start: Start = None,
    end: End = None,
    backend: Backend = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print what the container says about VIDEO and the frames vidground would give the model."""
    from vidground.video.decode import get_decoder
    from vidground.video.probe import probe
    from vidground.video.sampling import plan_frames

    settings = _settings()
    chosen = backend or settings.decoder
    get_decoder(chosen)  # an unknown or uninstalled backend fails here, naming itself
    info = probe(video)
    if info.damaged:
        err.print(f"warning: {video}: {info.damaged}", markup=False)
    plan = plan_frames(
        info,
        _sampling(
            settings,
            fps=fps,
            nframes=nframes,
            min_frames=min_frames,
            max_frames=max_frames,
            min_pixels=min_pixels,
            max_pixels=max_pixels,
            total_pixels=total_pixels,
            max_tokens=max_tokens,
            start=start,
            end=end,
        ),
    )
    if as_json:
        out.print_json(json.dumps({"probe": info.summary(), "plan": plan.summary(), "backend": str(chosen)}))
        return
    table = Table(title=str(video), show_header=False, box=None)
    for key, value in info.summary().items():
        if key != "path":
            table.add_row(key, str(value))
    table.add_row("", "")
    plan_fields = plan.summary()
    times = plan.times_s
    table.add_row("sampled frames", f"{len(times)} at {plan.sample_fps:.4g} fps ({times[0]:.3f}s .. {times[-1]:.3f}s)")
    table.add_row("frame size", f"{plan.width}x{plan.height}")
    for key in ("grid_thw", "num_tokens", "second_per_grid"):
        table.add_row(key, str(plan_fields[key]))
    table.add_row("decoder", str(chosen))
    out.print(table)


Model = Annotated[
    str | None, typer.Option("--model", "-m", help="Hub id or local folder [Qwen/Qwen2.5-VL-3B-Instruct].")
]
Device = Annotated[str | None, typer.Option("--device", help="auto, cpu, cuda or cuda:N \\[auto].")]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
TimeFormat = Annotated[
    TimeStyle, typer.Option("--time-format", help="Timecodes as seconds, clock (HH:MM:SS.mmm) or hmsf (SMPTE).")
]
OutFile = Annotated[Path | None, typer.Option("--out", "-o", help="Write the output to this file instead of stdout.")]


def _runner(settings: Settings, model: str | None, device: str | None, *, weights_now: bool = True) -> Any:
    """The model runner; with ``weights_now`` its weights are looked up (downloaded if need be) before any video
    work, so a missing model fails in a second rather than after decoding an hour of video."""
    from vidground.model.runner import QwenRunner, resolve_checkpoint

    model_id = model or settings.model_id
    revision = settings.model_revision if model is None else None
    runner = QwenRunner(model_id, revision=revision, device=_device(device or settings.device, flag=device is not None))
    if weights_now:
        resolve_checkpoint(model_id, revision)
    return runner


def _device(device: str, *, flag: bool) -> str:
    """Refuse a device that cannot work before any decoding or loading starts (torch would fail much later)."""
    from vidground.model.runner import pick_device

    try:
        pick_device(device)
    except ConfigError as exc:
        raise ConfigError(f"{'--device' if flag else 'VIDGROUND_DEVICE'}: {exc}") from None
    return device


def _check_out(out_file: Path | None) -> None:
    """Fail before a long run, not after it, when --out cannot be written."""
    if out_file is None:
        return
    if out_file.is_dir():
        raise ConfigError(f"--out {out_file}: is a folder; expected a file name")
    if not out_file.parent.is_dir():
        raise ConfigError(f"--out {out_file}: folder {out_file.parent} does not exist")
    if not os.access(out_file.parent, os.W_OK):
        raise ConfigError(f"--out {out_file}: folder {out_file.parent} is not writable")


def _emit_result(data: dict[str, Any], fmt: OutputFormat, out_file: Path | None) -> None:
    """Write a result; formats with no place for the model's issues (unreadable answers, repairs) get them on stderr."""
    _emit(render(data, fmt), out_file)
    if fmt in (OutputFormat.JSONL, OutputFormat.SRT, OutputFormat.VTT, OutputFormat.CSV):
        for issue in result_issues(data):
            err.print(f"warning: {issue}", markup=False)


def _emit(text: str, out_file: Path | None) -> None:
    if out_file is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    tmp = out_file.with_name(out_file.name + ".partial")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out_file)  # a crash never leaves half a file under the requested name
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"--out {out_file}: cannot write ({exc.strerror or exc})") from exc


@app.command()
def locate(
    video: VideoArg,
    queries: Annotated[
        list[str], typer.Argument(help="What to look for, e.g. 'person opens door'.", show_default=False)
    ],
    model: Model = None,
    device: Device = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    time_format: TimeFormat = TimeStyle.SECONDS,
    fps: Fps = None,
    nframes: NFrames = None,
    min_frames: MinFrames = None,
    max_frames: MaxFrames = None,
    min_pixels: MinPixels = None,
    max_pixels: MaxPixels = None,
    total_pixels: TotalPixels = None,
    max_tokens: MaxTokens = None,
    start: Start = None,
    end: End = None,
    backend: Backend = None,
    resize: Resize = None,
    max_windows: Annotated[int, typer.Option("--max-windows", help="Long videos: windows re-grounded per query.")] = 3,
    out_file: OutFile = None,
    quiet: Quiet = False,
) -> None:
    """Find when each QUERY happens in VIDEO: ranked spans in seconds, or 'not found'."""
    from vidground import pipeline

    settings = _settings()
    sampling = _sampling(
        settings,
        fps=fps,
        nframes=nframes,
        min_frames=min_frames,
        max_frames=max_frames,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        total_pixels=total_pixels,
        max_tokens=max_tokens,
        start=start,
        end=end,
    )
    _check_out(out_file)
    runner = _runner(settings, model, device)
    with _progress(quiet) as on_progress:
        result = pipeline.locate(
            video,
            queries,
            runner=runner,
            sampling=sampling,
            backend=backend or settings.decoder,
            resize=resize or settings.resize,
            threads=settings.decode_threads,
            time_style=time_format,
            max_windows=max_windows,
            on_progress=on_progress,
        )
    _emit_result(result.to_json(), fmt, out_file)


@app.command()
def caption(
    video: VideoArg,
    model: Model = None,
    device: Device = None,
    fmt: FormatOpt = OutputFormat.TABLE,
    time_format: TimeFormat = TimeStyle.SECONDS,
    fps: Fps = None,
    nframes: NFrames = None,
    min_frames: MinFrames = None,
    max_frames: MaxFrames = None,
    min_pixels: MinPixels = None,
    max_pixels: MaxPixels = None,
    total_pixels: TotalPixels = None,
    max_tokens: MaxTokens = None,
    start: Start = None,
    end: End = None,
    backend: Backend = None,
    resize: Resize = None,
    out_file: OutFile = None,
    quiet: Quiet = False,
) -> None:
    """Describe the events of VIDEO with their start and end times (chapters / dense captions)."""
    from vidground import pipeline

    settings = _settings()
    sampling = _sampling(
        settings,
        fps=fps,
        nframes=nframes,
        min_frames=min_frames,
        max_frames=max_frames,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        total_pixels=total_pixels,
        max_tokens=max_tokens,
        start=start,
        end=end,
    )
    _check_out(out_file)
    runner = _runner(settings, model, device)
    with _progress(quiet) as on_progress:
        result = pipeline.caption(
            video,
            runner=runner,
            sampling=sampling,
            backend=backend or settings.decoder,
            resize=resize or settings.resize,
            threads=settings.decode_threads,
            time_style=time_format,
            on_progress=on_progress,
        )
    _emit_result(result.to_json(), fmt, out_file)


class EvalFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


@app.command(name="eval")
def eval_command(
    gt_file: Annotated[Path, typer.Argument(help="Ground truth: Charades-STA, QVHighlights, ActivityNet, CSV/JSON.")],
    predictions: Annotated[
        Path | None, typer.Option("--predictions", help="Score this predictions file (QVHighlights or vidground).")
    ] = None,
    videos: Annotated[
        Path | None, typer.Option("--videos", help="Run grounding over the videos in this folder.")
    ] = None,
    cache: Annotated[
        Path | None,
        typer.Option("--cache", help="--videos: JSONL cache of answers (resumable) \\[under VIDGROUND_DATA_DIR]."),
    ] = None,
    fmt: Annotated[EvalFormat, typer.Option("--format", "-f", help="Report format.")] = EvalFormat.TABLE,
    out_file: OutFile = None,
    model: Model = None,
    device: Device = None,
    fps: Fps = None,
    nframes: NFrames = None,
    max_frames: MaxFrames = None,
    max_tokens: MaxTokens = None,
    backend: Backend = None,
    resize: Resize = None,
    quiet: Quiet = False,
) -> None:
    """Score grounding against GT_FILE with standard metrics (R@1, mIoU, mAP; see docs/eval.md)."""
    from vidground.eval import build_report, load_ground_truth, load_predictions
    from vidground.eval.report import render_table

    if (predictions is None) == (videos is None):
        raise ConfigError("eval: give exactly one of --predictions FILE or --videos DIR")
    _check_out(out_file)
    gt = load_ground_truth(gt_file)
    if predictions is not None:
        loaded = load_predictions(predictions, gt)
        report = build_report(
            gt, loaded.by_qid, provenance=loaded.provenance, n_unmatched_predictions=loaded.n_unmatched
        )
    elif videos is not None:  # always, after the check above
        settings = _settings()
        sampling = _sampling(
            settings,
            fps=fps,
            nframes=nframes,
            min_frames=None,
            max_frames=max_frames,
            min_pixels=None,
            max_pixels=None,
            total_pixels=None,
            max_tokens=max_tokens,
            start=None,
            end=None,
        )
        report = _eval_videos(
            gt,
            videos,
            settings=settings,
            sampling=sampling,
            cache=cache,
            runner=_runner(settings, model, device, weights_now=False),
            backend=backend or settings.decoder,
            resize=resize or settings.resize,
            quiet=quiet,
        )
    text = json.dumps(report.to_json(), indent=2) + "\n" if fmt is EvalFormat.JSON else render_table(report) + "\n"
    _emit(text, out_file)


def _eval_videos(
    gt: Any,
    videos: Path,
    *,
    settings: Settings,
    sampling: Any,
    cache: Path | None,
    runner: Any,
    backend: DecoderName,
    resize: ResizeMode,
    quiet: bool,
) -> Any:
    """Run grounding over a folder for ``vidground eval --videos``, resumably, and build the report."""
    import dataclasses
    import hashlib

    from vidground import pipeline
    from vidground.eval import build_report, run_grounding_eval
    from vidground.eval.predictions import summarize_provenance
    from vidground.eval.runner import read_cache
    from vidground.model.prompts import PROMPT_VERSION

    if not videos.is_dir():
        raise ConfigError(f"--videos {videos}: not a folder")
    # What changes an answer names the cache, so a resumed run never mixes answers made with other settings.
    knobs = {
        "model_id": runner.model_id,
        "prompt_version": PROMPT_VERSION,
        "backend": str(backend),
        "resize": str(resize),
        **{k: v for k, v in dataclasses.asdict(sampling).items() if v is not None},
    }
    if cache is None:
        digest = hashlib.sha256(json.dumps(knobs, sort_keys=True).encode()).hexdigest()[:12]
        cache = settings.data_dir / "eval" / f"{videos.resolve().name}-{digest}.jsonl"
    cache.parent.mkdir(parents=True, exist_ok=True)
    # Each video's provenance goes beside the cache as it is made, so a resumed run still reports where every
    # cached answer came from (model revision, vidground version, sample fps).
    provenance_log = cache.with_name(cache.name + ".provenance")

    def locate_one(path: Path, queries: list[str]) -> Any:
        result = pipeline.locate(
            path,
            queries,
            runner=runner,
            sampling=sampling,
            backend=backend,
            resize=resize,
            threads=settings.decode_threads,
        )
        with provenance_log.open("a", encoding="utf-8") as log:
            log.write(json.dumps(result.provenance.to_json()) + "\n")
        return result.results

    cached = read_cache(cache, gt)
    if any(item.qid not in cached for item in gt):
        runner.load()  # up front: a query's latency is its grounding call, not the one-time model load
    with _progress(quiet) as on_progress:
        run = run_grounding_eval(
            gt,
            videos,
            locate=locate_one,
            cache_path=cache,
            on_progress=None if on_progress is None else (lambda done, total: on_progress("videos", done, total)),
        )
    provenances = []
    if provenance_log.exists():
        for line in provenance_log.read_text(encoding="utf-8").splitlines():
            try:
                provenances.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a stopped run: that video is asked again anyway
                continue
    provenance: dict[str, object] = {**knobs, **summarize_provenance(provenances), "cache": str(cache)}
    return build_report(
        gt,
        run.predictions,
        provenance=provenance,
        missing_videos=run.missing_videos,
        failed_videos=run.failed_videos,
    )


@app.command()
def doctor() -> None:
    """Check decoders, torch and its device, model weights and the database; say what to fix."""
    from vidground.doctor import run_checks

    settings = _settings()
    checks = run_checks(settings)
    width = max(len(c.name) for c in checks)
    for check in checks:
        mark = {"ok": "[green]ok  [/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}[check.status]
        out.print(f"{check.name:<{width}}  {mark}  ", end="")
        out.print(check.detail, markup=False)
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(2)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; the one place where errors become exit codes and one-line messages."""
    level = os.environ.get("VIDGROUND_LOG_LEVEL", "WARNING")
    if not isinstance(logging.getLevelName(level.upper()), int):
        err.print(f"error: VIDGROUND_LOG_LEVEL={level!r}: expected DEBUG, INFO, WARNING or ERROR", markup=False)
        return 2
    logging.basicConfig(level=level.upper(), stream=sys.stderr)
    from vidground.video.ffmpeg_log import configure_ffmpeg_logging

    configure_ffmpeg_logging(debug=level.upper() == "DEBUG")
    try:
        # Standalone mode: the CLI framework prints usage errors itself and exits 2; our errors come out here.
        app(args=argv, prog_name="vidground", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except VidgroundError as exc:
        err.print(f"error: {exc}", markup=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:
        if os.environ.get("VIDGROUND_DEBUG"):
            raise
        err.print(
            f"error: unexpected failure: {type(exc).__name__}: {exc} (set VIDGROUND_DEBUG=1 for the traceback)",
            markup=False,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
