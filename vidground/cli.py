"""The ``vidground`` command line: a thin shell over the library.

Each command parses its flags, calls the library, and renders. Errors are mapped to exit codes in one place
(:func:`main`): 0 success, 2 bad input or missing model (a :class:`~vidground.errors.VidgroundError`), 1 an
unexpected failure (one short line; ``VIDGROUND_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

import vidground
from vidground.errors import ConfigError, InternalError, VidgroundError
from vidground.eval.groundtruth import GroundTruthFormat
from vidground.options import DEFAULT_MODEL_ID, KNOBS, AnalysisOptions, DecoderName, ResizeMode, SnapTarget
from vidground.output.timecodes import TimeStyle
from vidground.render import FORMATS_WITHOUT_ISSUES, OutputFormat, render, result_issues
from vidground.results import AnyResult, Stage
from vidground.settings import LogLevel, Settings
from vidground.video.ffmpeg_log import configure_ffmpeg_logging

logger = logging.getLogger(__name__)

EXIT_CODES = "Exit codes: 0 done, 2 bad input or missing model (one line on stderr), 1 unexpected failure."

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: no fake <bool> values on flags
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    help="Find when things happen in videos, and caption them with timestamps (Qwen2.5-VL).",
)
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _epilog(*examples: str) -> str:
    """Examples and exit codes at the end of a command's help (\b keeps click from re-wrapping them)."""
    return "\b\nExamples:\n" + "\n".join(f"  {e}" for e in examples) + f"\n\n\b\n{EXIT_CODES}"


def _knob_option(name: str, *aliases: str, flag: str | None = None) -> Any:
    """A flag for a knob of vidground.options.KNOBS: its help and default come from there, one way for all."""
    knob = KNOBS[name]
    default = knob.describe_default()
    suffix = f" [default: {default}; {knob.env}]" if default else f" [{knob.env}]"
    return typer.Option(flag or knob.flag, *aliases, help=knob.help + suffix, show_default=False)


# Knob flags shared by inspect, locate, caption, eval (qwen-vl-utils' names where it has them).
Fps = Annotated[float | None, _knob_option("fps")]
NFrames = Annotated[int | None, _knob_option("nframes")]
MinFrames = Annotated[int | None, _knob_option("min_frames")]
MaxFrames = Annotated[int | None, _knob_option("max_frames")]
MinPixels = Annotated[int | None, _knob_option("min_pixels")]
MaxPixels = Annotated[int | None, _knob_option("max_pixels")]
TotalPixels = Annotated[int | None, _knob_option("total_pixels")]
MaxTokens = Annotated[int | None, _knob_option("max_tokens")]
Start = Annotated[float | None, _knob_option("start_s", flag="--start")]
End = Annotated[float | None, _knob_option("end_s", flag="--end")]
Decoder = Annotated[DecoderName | None, _knob_option("decoder", "--backend")]
Resize = Annotated[ResizeMode | None, _knob_option("resize")]
MaxNewTokens = Annotated[int | None, _knob_option("max_new_tokens")]
MaxWindows = Annotated[int | None, _knob_option("max_windows")]
BatchSize = Annotated[int | None, _knob_option("batch_size")]
TorchThreads = Annotated[int | None, _knob_option("torch_threads")]
Snap = Annotated[SnapTarget | None, _knob_option("snap")]
SnapTolerance = Annotated[float | None, _knob_option("snap_tolerance_s", flag="--snap-tolerance")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
VideoArg = Annotated[Path, typer.Argument(metavar="VIDEO", help="A video file.", show_default=False)]


def _settings() -> Settings:
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:  # one line per the error contract, naming each variable and its value
        problems = "; ".join(
            f"VIDGROUND_{'_'.join(map(str, e['loc'])).upper()}={e.get('input')!r}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid environment setting: {problems}") from exc


def _knob_flags(given: dict[str, Any]) -> dict[str, object]:
    """The knob flags of a command, by knob name, from its parameters (``locals()``): ``--start``/``--end`` are the
    knobs ``start_s``/``end_s``; None means the flag was not given."""
    renamed = {"start": "start_s", "end": "end_s", "snap_tolerance": "snap_tolerance_s"}
    return {renamed.get(name, name): value for name, value in given.items() if renamed.get(name, name) in KNOBS}


def _use_torch_threads(options: AnalysisOptions) -> None:
    if options.torch_threads is not None:
        import torch

        torch.set_num_threads(options.torch_threads)


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[Stage, int, int], None] | None]:
    """A ``on_progress(stage, done, total)`` callback drawing bars on a terminal; None when piped or quiet."""
    if quiet or not err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:>9}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    ) as bars:
        tasks: dict[str, Any] = {}

        def on_progress(stage: Stage, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(str(stage), total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield on_progress


@app.command(
    epilog=_epilog(
        "vidground inspect movie.mp4",
        "vidground inspect movie.mp4 --fps 1 --start 60 --end 120 --json",
        "vidground inspect movie.mp4 --total-pixels 90316800   # qwen-vl-utils' default budget",
    )
)
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
    decoder: Decoder = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print what the container says about VIDEO and the frames vidground would give the model."""
    from vidground.pipeline import window_length_s
    from vidground.video.decode import get_decoder
    from vidground.video.probe import probe
    from vidground.video.sampling import plan_frames

    settings = _settings()
    options = settings.options(_knob_flags(locals()))
    chosen = options.decoding.backend
    get_decoder(chosen)  # an unknown or uninstalled backend fails here, naming itself
    info = probe(video)
    if info.damaged:
        err.print(f"warning: {video}: {info.damaged}", markup=False)
    window_s = window_length_s(info, options)
    # A range one call cannot see is looked at in windows of window_s at the target fps; the plan shown is
    # then what one call over the whole range would get (locate's coarse pass thins it further).
    plan = plan_frames(info, options.sampling)
    if as_json:
        data = {"probe": info.summary(), "plan": plan.summary(), "backend": str(chosen), "window_s": window_s}
        out.print_json(json.dumps(data))
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
    if window_s is not None:
        table.add_row(
            "windows",
            f"one call holds {window_s:.1f} s at {options.sampling.target_fps:g} fps: locate and caption look "
            "at this range in windows",
        )
    out.print(table)


Model = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help=f"Hub id or local checkpoint folder. [default: {DEFAULT_MODEL_ID}; VIDGROUND_MODEL_ID]",
        show_default=False,
    ),
]
Device = Annotated[
    str | None,
    typer.Option("--device", help="auto, cpu, cuda or cuda:N. [default: auto; VIDGROUND_DEVICE]", show_default=False),
]
FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Output format. [default: table]", show_default=False)
]
TimeFormat = Annotated[
    TimeStyle,
    typer.Option(
        "--time-format",
        help="Timecodes as seconds, clock (HH:MM:SS.mmm) or hmsf (SMPTE, at the video's frame rate). "
        "[default: seconds]",
        show_default=False,
    ),
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


def _check_out(out_file: Path | None, inputs: Sequence[Path | None]) -> None:
    """Fail before a long run, not after it, when --out cannot be written or would overwrite one of ``inputs``.

    Raises:
        ConfigError: --out names an input file (by any spelling, link or hard link), a folder, or a place that
            cannot be written.
    """
    if out_file is None:
        return
    for given in inputs:
        if given is not None and _same_file(out_file, given):
            raise ConfigError(f"--out {out_file}: is the input file {given}; choose another output file")
    target, direct = _out_target(out_file)
    if direct:
        if not os.access(out_file, os.W_OK):
            raise ConfigError(f"--out {out_file}: is not writable")
        return
    if target.is_dir():
        raise ConfigError(f"--out {out_file}: is a folder; expected a file name")
    if not target.parent.is_dir():
        raise ConfigError(f"--out {out_file}: folder {target.parent} does not exist")
    if not os.access(target.parent, os.W_OK):
        raise ConfigError(f"--out {out_file}: folder {target.parent} is not writable")


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one existing file (through links, other spellings or hard links)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # either does not exist (yet): nothing to overwrite
        return False


def _out_target(out_file: Path) -> tuple[Path, bool]:
    """Where --out writes, and whether it writes there directly rather than by temp file and rename.

    A device, pipe or socket (``/dev/null``, a FIFO, ``/dev/stdout``) is written directly: replacing it would
    destroy it. Anything else is a file written whole or not at all: a temp file beside the symlink's *target*,
    renamed over it, so a link stays a link.
    """
    try:
        mode = out_file.stat().st_mode  # follows links
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        return out_file, True
    if str(out_file.absolute()).startswith(("/dev/fd/", "/dev/std", "/proc/")):
        return out_file, True  # a descriptor (e.g. stdout redirected to a file): its path is not the file's
    return Path(os.path.realpath(out_file)), False


def _emit_result(result: AnyResult, fmt: OutputFormat, time_format: TimeStyle, out_file: Path | None) -> None:
    """Write a result; formats with no place for the model's issues (unreadable answers, repairs) get them on stderr."""
    _emit(render(result, fmt, time_style=time_format), out_file)
    if fmt in FORMATS_WITHOUT_ISSUES:
        for issue in result_issues(result):
            err.print(f"warning: {issue}", markup=False)


def _emit(text: str, out_file: Path | None) -> None:
    """Write ``text`` to stdout, or to --out: directly to a device or pipe, else whole or not at all."""
    if out_file is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target, direct = _out_target(out_file)
    if direct:
        try:
            with out_file.open("w", encoding="utf-8") as stream:
                stream.write(text)
        except OSError as exc:
            raise ConfigError(f"--out {out_file}: cannot write ({exc.strerror or exc})") from exc
        return
    tmp = target.with_name(target.name + ".partial")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)  # a crash never leaves half a file under the requested name
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"--out {out_file}: cannot write ({exc.strerror or exc})") from exc


@app.command(
    epilog=_epilog(
        'vidground locate movie.mp4 "person opens door"',
        'vidground locate movie.mp4 "a dog barks" "a car passes" -f srt -o found.srt',
        'vidground locate movie.mp4 --time-format hmsf --start 600 --end 900 -- "-1 goal celebration"',
        'vidground locate movie.mp4 "a car passes" --snap shots --snap-tolerance 0.5',
    )
)
def locate(
    video: VideoArg,
    queries: Annotated[
        list[str],
        typer.Argument(
            metavar="QUERY",
            help="What to look for, e.g. 'person opens door'. A query starting with - goes after --.",
            show_default=False,
        ),
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
    decoder: Decoder = None,
    resize: Resize = None,
    max_new_tokens: MaxNewTokens = None,
    max_windows: MaxWindows = None,
    batch_size: BatchSize = None,
    torch_threads: TorchThreads = None,
    snap: Snap = None,
    snap_tolerance: SnapTolerance = None,
    out_file: OutFile = None,
    quiet: Quiet = False,
) -> None:
    """Find when each QUERY happens in VIDEO: ranked spans in seconds, or 'not found'."""
    from vidground import pipeline

    settings = _settings()
    options = settings.options(_knob_flags(locals()))
    _check_out(out_file, [video])
    runner = _runner(settings, model, device)
    _use_torch_threads(options)
    with _progress(quiet) as on_progress:
        result = pipeline.locate(video, queries, runner=runner, options=options, on_progress=on_progress)
    _emit_result(result, fmt, time_format, out_file)


@app.command(
    epilog=_epilog(
        "vidground caption movie.mp4",
        "vidground caption movie.mp4 -f vtt -o movie.vtt",
        "vidground caption lecture.mp4 --fps 0.5 --time-format clock",
    )
)
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
    decoder: Decoder = None,
    resize: Resize = None,
    max_new_tokens: MaxNewTokens = None,
    batch_size: BatchSize = None,
    torch_threads: TorchThreads = None,
    out_file: OutFile = None,
    quiet: Quiet = False,
) -> None:
    """Describe the events of VIDEO with their start and end times (chapters / dense captions)."""
    from vidground import pipeline

    settings = _settings()
    options = settings.options(_knob_flags(locals()))
    _check_out(out_file, [video])
    runner = _runner(settings, model, device)
    _use_torch_threads(options)
    with _progress(quiet) as on_progress:
        result = pipeline.caption(video, runner=runner, options=options, on_progress=on_progress)
    _emit_result(result, fmt, time_format, out_file)


class EvalFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


@app.command(name="eval")
def eval_command(
    gt_file: Annotated[Path, typer.Argument(help="Ground truth: Charades-STA, QVHighlights, ActivityNet, CSV/JSON.")],
    gt_format: Annotated[
        GroundTruthFormat | None,
        typer.Option("--gt-format", help="Read GT_FILE in this format \\[recognised from its name and content]."),
    ] = None,
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
    decoder: Decoder = None,
    resize: Resize = None,
    quiet: Quiet = False,
) -> None:
    """Score grounding against GT_FILE with standard metrics (R@1, mIoU, mAP; see docs/eval.md)."""
    from vidground.eval import build_report, load_ground_truth, load_predictions
    from vidground.eval.report import render_table

    if (predictions is None) == (videos is None):
        raise ConfigError("eval: give exactly one of --predictions FILE or --videos DIR")
    _check_out(out_file, [gt_file, predictions, cache])
    gt = load_ground_truth(gt_file, format=gt_format)
    if predictions is not None:
        loaded = load_predictions(predictions, gt)
        if loaded.n_unmatched:
            entries = "entry matches" if loaded.n_unmatched == 1 else "entries match"
            err.print(
                f"warning: {predictions}: {loaded.n_unmatched} prediction {entries} no ground-truth query "
                f"and {'is' if loaded.n_unmatched == 1 else 'are'} not scored, e.g. "
                f"{'; '.join(loaded.unmatched_examples)}",
                markup=False,
            )
        report = build_report(
            gt, loaded.by_qid, provenance=loaded.provenance, n_unmatched_predictions=loaded.n_unmatched
        )
    elif videos is not None:  # always, after the check above
        settings = _settings()
        options = settings.options(_knob_flags(locals()))
        report = _eval_videos(
            gt,
            videos,
            settings=settings,
            options=options,
            cache=cache,
            runner=_runner(settings, model, device, weights_now=False),
            quiet=quiet,
        )
    text = json.dumps(report.to_json(), indent=2) + "\n" if fmt is EvalFormat.JSON else render_table(report) + "\n"
    _emit(text, out_file)


def _eval_videos(
    gt: Any,
    videos: Path,
    *,
    settings: Settings,
    options: AnalysisOptions,
    cache: Path | None,
    runner: Any,
    quiet: bool,
) -> Any:
    """Run grounding over a folder for ``vidground eval --videos``, resumably, and build the report."""
    import hashlib

    from vidground import pipeline
    from vidground.doctor import ensure_data_dir
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
        "params_hash": options.params_hash(),
        "options": options.to_json(),
    }
    if cache is None:
        digest = hashlib.sha256(json.dumps(knobs, sort_keys=True).encode()).hexdigest()[:12]
        cache = ensure_data_dir(settings.data_dir) / "eval" / f"{videos.resolve().name}-{digest}.jsonl"
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"answer cache {cache}: cannot create its folder ({exc.strerror or exc}); give --cache FILE elsewhere"
        ) from exc
    # Each video's provenance goes beside the cache as it is made, so a resumed run still reports where every
    # cached answer came from (model revision, vidground version, sample fps).
    provenance_log = cache.with_name(cache.name + ".provenance")

    def locate_one(path: Path, queries: list[str]) -> Any:
        result = pipeline.locate(path, queries, runner=runner, options=options)
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
            on_progress=None if on_progress is None else (lambda done, total: on_progress(Stage.VIDEOS, done, total)),
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


from vidground.cli_index import register as _register_index_commands  # noqa: E402 - needs the options above

_register_index_commands(app)


def _version(value: bool) -> None:
    if value:
        out.print(f"vidground {vidground.__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    log_level: Annotated[
        LogLevel | None,
        typer.Option(
            "--log-level",
            case_sensitive=False,
            help="How much to log on stderr. [default: WARNING; VIDGROUND_LOG_LEVEL]",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Find when things happen in videos, and caption them with timestamps (Qwen2.5-VL)."""
    if log_level is not None:
        logging.getLogger().setLevel(log_level.value)
        configure_ffmpeg_logging(debug=log_level is LogLevel.DEBUG)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; the one place where errors become exit codes and one-line messages."""
    debug = False
    try:
        settings = _settings()  # VIDGROUND_LOG_LEVEL and VIDGROUND_DEBUG are settings like any other
        debug = settings.debug
        logging.basicConfig(level=settings.log_level.value, stream=sys.stderr)
        logging.getLogger().setLevel(settings.log_level.value)
        configure_ffmpeg_logging(debug=settings.log_level is LogLevel.DEBUG)  # FFmpeg's own lines only at debug
        # Standalone mode: the CLI framework prints usage errors itself and exits 2; our errors come out here.
        app(args=argv, prog_name="vidground", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except VidgroundError as exc:
        err.print(f"error: {exc}", markup=False)
        return exc.exit_code
    except InternalError as exc:  # a bug, not the user's input: exit 1, and say so
        if debug:
            raise
        logger.error("internal error: %s", exc, exc_info=logger.isEnabledFor(logging.DEBUG))
        err.print(f"error: internal error: {exc} (please report; VIDGROUND_DEBUG=1 for the traceback)", markup=False)
        return 1
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:
        if debug:
            raise
        err.print(
            f"error: unexpected failure: {type(exc).__name__}: {exc} (set VIDGROUND_DEBUG=1 for the traceback)",
            markup=False,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
