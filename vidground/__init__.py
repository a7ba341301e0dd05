"""vidground: video temporal grounding and long-video analytics on Qwen2.5-VL.

Heavy modules (torch, av, transformers) load on first use of the name that needs them, so ``import vidground`` is
cheap and the CLI starts fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "VidgroundError": "vidground.errors",
    "VideoDecodeError": "vidground.errors",
    "DecoderBackendError": "vidground.errors",
    "SamplingError": "vidground.errors",
    "TimecodeError": "vidground.errors",
    "ModelNotAvailable": "vidground.errors",
    "ModelOutputError": "vidground.errors",
    "EvalDataError": "vidground.errors",
    "ConfigError": "vidground.errors",
    "FramePlan": "vidground.timeline",
    "SampledFrame": "vidground.timeline",
    "Span": "vidground.timeline",
    "VideoProbe": "vidground.timeline",
    "Settings": "vidground.settings",
    "AnalysisOptions": "vidground.options",
    "DecodeOptions": "vidground.options",
    "GenerateOptions": "vidground.options",
    "Task": "vidground.options",
    "merge_options": "vidground.options",
    "VideoResult": "vidground.results",
    "CaptionResult": "vidground.results",
    "QueryResult": "vidground.results",
    "Provenance": "vidground.results",
    "Stage": "vidground.results",
    "render": "vidground.render",
    "InternalError": "vidground.errors",
    "probe": "vidground.video.probe",
    "SamplingOptions": "vidground.options",
    "plan_frames": "vidground.video.sampling",
    "smart_resize": "vidground.video.sampling",
    "smart_nframes": "vidground.video.sampling",
    "decode_frames": "vidground.video.decode",
    "preprocess_frames": "vidground.model.preprocess",
    "rope_index": "vidground.model.mrope",
    "format_timecode": "vidground.output.timecodes",
    "parse_timecode": "vidground.output.timecodes",
    "parse_spans": "vidground.output.spans",
    "QwenRunner": "vidground.model.runner",
    "encode": "vidground.pipeline",
    "locate": "vidground.pipeline",
    "locate_encoded": "vidground.pipeline",
    "caption": "vidground.pipeline",
    "caption_encoded": "vidground.pipeline",
    "needs_windows": "vidground.pipeline",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vidground' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = sorted(_EXPORTS)
