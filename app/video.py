"""The "Video" tab (pose video): a reference person animated along a driving clip.

The driving motion is a video (its person's pose is tracked frame by frame) or a .zip of
OpenPose JSON files, one per frame; the open sub-tab says which. The tab calls
:class:`dynast.video.animate.PoseAnimator` and shows the result video and the side-by-side
video (driving | pose | result), with a progress bar per frame. Clips over the limits
(:data:`LIMITS`, :data:`MAX_FRAMES`) are refused with a message that names the limit.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from app.errors import failure_status, status_markdown, user_errors
from app.media import EXAMPLES, example_paths, output_path
from app.panels import checkpoint_note, reference_input
from app.settings import AppSettings
from app.source_tabs import SourceTabs
from dynast.video.animate import AnimateOptions, PoseAnimator
from dynast.video.clip import ClipLimits

SOURCES = ("video", "pose sequence")
SIZES = ("256x176", "192x128", "128x88")
MAX_FRAMES = 120
LIMITS = ClipLimits(max_bytes=25 * 1024 * 1024, max_pixels=1920 * 1080, max_seconds=20.0)
EXAMPLE_SEQUENCE = EXAMPLES / "driving" / "shipped_poses_dance.zip"
EXAMPLE_SKELETON = EXAMPLES / "driving" / "shipped_poses_dance_skeleton.mp4"
LIMITS_TEXT = (f"Limits: {MAX_FRAMES} frames, {LIMITS.max_seconds:.0f} s, "
               f"{LIMITS.max_bytes // 2**20} MB, 1920x1080 pixels.")


def _path(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return None if value is None else str(getattr(value, "name", value))


def make_handler(settings: AppSettings):
    """The /pose_video endpoint."""

    @user_errors
    def pose_video(reference: str | None, driving_video: str | None,
                   driving_source: str = "video", pose_sequence: Any = None,
                   size: str = SIZES[0], checkpoint: str | None = None,
                   side_by_side: bool = True, request: gr.Request = None,
                   progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        """Animate the reference person along the driving clip.

        Args:
            reference: photo of the person whose appearance is used.
            driving_video: a video of someone moving (driving_source "video").
            driving_source: "video" or "pose sequence" (pose_sequence: a .zip of OpenPose
                JSON files, one per frame).
            size: the model canvas, "HxW".
        Returns the result video, the side-by-side video and the status line.
        """
        if reference is None:
            raise gr.Error("Upload a reference photo of a person (full body, one person).",
                           title="Reference missing", print_exception=False)
        if driving_source == "video":
            driving = _path(driving_video)
            missing = "Upload a driving video (or pick the 'Pose sequence' tab)."
        elif driving_source == "pose sequence":
            driving = _path(pose_sequence)
            missing = "Upload a .zip of OpenPose JSON files, one per frame."
        else:
            raise gr.Error(f"driving_source must be one of {', '.join(SOURCES)}.",
                           print_exception=False)
        if driving is None:
            raise gr.Error(missing, title="Driving clip missing", print_exception=False)
        if size not in SIZES:
            raise gr.Error(f"size must be one of {', '.join(SIZES)}.", print_exception=False)
        h, w = (int(v) for v in size.split("x"))
        entry, note = settings.serving_checkpoint(settings.checkpoint("pose", checkpoint))
        animator = PoseAnimator(pipeline=settings.pipeline("pose", entry.path))
        options = AnimateOptions(size=(h, w), max_frames=MAX_FRAMES, refuse_longer=True,
                                 limits=LIMITS)

        def step(done: int, total: int, stage: str) -> None:
            what = "pose of frame" if stage == "poses" else "frame"
            progress((done, total), desc=f"{what} {done} of {total}", unit="frames")

        out = output_path("pose_video", "", ".mp4")
        sbs = output_path("pose_video", "side_by_side", ".mp4") if side_by_side else None
        report = animator(reference, driving, out, options, side_by_side_out=sbs,
                          progress=step)
        warnings = [note, *report.warnings] if note else list(report.warnings)
        for text in warnings:
            gr.Warning(text)
        t = report.timings
        timings = (f"{report.frames} frames at {report.fps:g} fps in {t['total']:.1f} s "
                   f"({report.frames / t['total']:.2f} frames/s; model {t['model']:.1f} s) · "
                   f"{w}x{h} · {report.precision} · {report.device} · checkpoint {entry.name}")
        return (str(out), str(sbs) if sbs else None,
                status_markdown(timings=timings, warnings=warnings))

    return pose_video


def build(settings: AppSettings) -> None:
    """Build the tab (inside a ``gr.Tab``)."""
    gr.Markdown(checkpoint_note(settings, "pose") + " · " + LIMITS_TEXT,
                elem_classes=["dynast-model-note"], elem_id="video-note")
    with gr.Row(equal_height=False):
        with gr.Column():
            reference = reference_input("Reference person (whose look to copy)", "video-reference")
        with gr.Column():
            with SourceTabs("video", SOURCES, "Driving motion from") as choice:
                with choice.tab("Video", "video"):
                    driving = gr.Video(label="Driving clip (someone moving)", format=None,
                                       sources=["upload"], include_audio=True, height=270,
                                       elem_id="video-driving")
                with choice.tab("Pose sequence", "pose sequence"):
                    gr.Markdown("A `.zip` of OpenPose JSON files, one per frame "
                                "(`NAME_000000000000_keypoints.json`, ...).",
                                elem_classes=["dynast-note"])
                    sequence = gr.File(label="Pose sequence (.zip)", file_types=[".zip"],
                                       height=150, elem_id="video-sequence")
                    if EXAMPLE_SKELETON.is_file():
                        gr.Video(value=str(EXAMPLE_SKELETON), label="The example sequence",
                                 format=None, interactive=False, height=200, autoplay=False)
    source = choice.radio
    refs = example_paths("pose", "reference")
    if refs and EXAMPLE_SEQUENCE.is_file():
        gr.Examples([[r, "pose sequence", str(EXAMPLE_SEQUENCE)] for r in refs],
                    inputs=[reference, source, sequence],
                    example_labels=[f"{Path(r).stem} → the shipped poses, danced"
                                    for r in refs],
                    label="Examples (a pose sequence made from the shipped poses)")
    with gr.Row():
        size = gr.Radio(list(SIZES), value=SIZES[0], label="Size (height x width)",
                        info="The model canvas; smaller is faster.")
        names = [e.name for e in settings.catalogue("pose")]
        checkpoint = gr.Dropdown(names, value=names[0] if names else None, label="Checkpoint")
        side = gr.Checkbox(value=True, label="Side-by-side video (driving | pose | result)")
    run = gr.Button("Generate video", variant="primary", elem_id="video-run")
    status = gr.Markdown(elem_classes=["dynast-status"], elem_id="video-status")
    with gr.Row():
        result = gr.Video(label="Result", format=None, interactive=False,
                          elem_id="video-result")
        panels = gr.Video(label="Driving | pose | result", format=None, interactive=False,
                          elem_id="video-side-by-side")
    run.click(lambda: "**Running…** (the progress bar is on the videos below)",
              outputs=status, queue=False, api_visibility="private", show_progress="hidden")
    event = run.click(make_handler(settings), inputs=[reference, driving, source, sequence,
                                                      size, checkpoint, side],
                      outputs=[result, panels, status], api_name="pose_video")
    event.failure(failure_status, outputs=[status], api_visibility="private",
                  show_progress="hidden")
