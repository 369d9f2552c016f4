"""The "Pose transfer" tab: dress a target pose in a reference person's appearance.

The target pose comes from exactly one source, chosen by a sub-tab: a photo, a shipped pose
or a keypoint file. The choice is a (hidden) input of the handler, set by the sub-tabs and by
the examples, so what runs is always what the page shows.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from app.errors import guard_upload, user_errors
from app.media import EXAMPLES, ResultStore, example_name, example_paths
from app.panels import (
    TabText,
    advanced_options,
    model_note,
    output_panel,
    reference_input,
)
from app.run import RunOptions, TabParts, run_task, wire_run
from app.settings import AppSettings
from app.source_tabs import SourceTabs
from dynast.tasks import pose_target_from_file

SOURCES = ("photo", "shipped pose", "keypoint file")
POSES_DIR = EXAMPLES / "poses"
TEXT = TabText("pose", semantics_label="Target pose (click to inspect)",
               model_input_label="What the model saw")


def shipped_poses() -> dict[str, Path]:
    """Name -> OpenPose JSON of the poses shipped in examples/poses/."""
    if not POSES_DIR.is_dir():
        return {}
    return {p.stem: p for p in sorted(POSES_DIR.glob("*.json"))}


def pose_preview(name: str | None) -> np.ndarray | None:
    """Draw a shipped pose (the preview beside the list)."""
    from dynast.semantics.pose_render import render_pose_preview

    path = shipped_poses().get(name or "")
    if path is None:
        return None
    target, _ = pose_target_from_file(path)
    h, w = target.size
    return render_pose_preview(target.keypoints, h, w)


def _files(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    return [str(getattr(v, "name", v)) for v in items if v]


def make_handler(settings: AppSettings, store: ResultStore):
    """The /pose endpoint."""

    @user_errors
    def pose(reference: str | None, target: str | None, target_source: str = "photo",
             pose_name: str | None = None, pose_files: Any = None, resolution: float = 256,
             top_k: float = 4, precision: str = "auto", checkpoint: str | None = None,
             fit: bool = True, normalisation: str | None = None, request: gr.Request = None,
             progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        """Pose transfer: the reference person in the target pose.

        Args:
            reference: photo of the person whose appearance is used.
            target: photo whose pose is extracted (target_source "photo").
            target_source: "photo", "shipped pose" (pose_name) or "keypoint file" (pose_files).
            pose_name: one of the shipped poses (examples/poses).
            pose_files: an OpenPose JSON file, or a NAME_candidate.txt + NAME_subset.txt pair.
        Returns the generated image first, then the target pose drawn, warps, confidences,
        the status line and what the model saw.
        """
        if reference is None:
            raise gr.Error("Upload a reference photo of a person (full body, one person).",
                           title="Reference missing", print_exception=False)
        if target_source == "photo":
            if target is None:
                raise gr.Error("Upload a target photo whose pose to copy (or pick the "
                               "'Shipped pose' or 'Keypoint file' tab).",
                               title="Target missing", print_exception=False)
            tgt: Any = target
        elif target_source == "shipped pose":
            poses = shipped_poses()
            if pose_name not in poses:
                raise gr.Error(f"Pick one of the shipped poses ({', '.join(poses) or 'none'}).",
                               title="Target missing", print_exception=False)
            tgt, _ = pose_target_from_file(poses[pose_name])  # type: ignore[index]
        elif target_source == "keypoint file":
            tgt, notes = pose_target_from_file(_files(pose_files))
            for note in notes:
                gr.Warning(note)
        else:
            raise gr.Error(f"target_source must be one of {', '.join(SOURCES)}.",
                           print_exception=False)
        return run_task(settings, store, "pose", reference, tgt,
                        RunOptions(resolution, top_k, precision, checkpoint, fit,
                                   normalisation),
                        progress=progress)

    return pose


def build(settings: AppSettings, store: ResultStore) -> None:
    """Build the tab (inside a ``gr.Tab``)."""
    note = model_note(settings, "pose")
    poses = shipped_poses()
    first = next(iter(poses), None)
    with gr.Row(equal_height=False):
        with gr.Column():
            reference = reference_input("Reference person (whose look to copy)", "pose-reference")
        with gr.Column():
            with SourceTabs("pose", SOURCES, "Target pose from") as choice:
                with choice.tab("Photo", "photo"):
                    target = guard_upload(gr.Image(
                        label="Target photo (its pose is extracted)", type="filepath",
                        image_mode=None, sources=["upload", "clipboard"], height=270,
                        elem_id="pose-target"))
                with choice.tab("Shipped pose", "shipped pose"):
                    with gr.Row():
                        pose_name = gr.Radio([(n.replace("_", " "), n) for n in poses],
                                             value=first, label="Pose", elem_id="pose-preset",
                                             scale=1, min_width=220)
                        preview = gr.Image(value=pose_preview(first), show_label=False,
                                           interactive=False, height=240, format="png",
                                           elem_id="pose-preview", scale=1, min_width=220,
                                           buttons=[])
                with choice.tab("Keypoint file", "keypoint file"):
                    gr.Markdown("An OpenPose `.json` file, or the two files "
                                "`NAME_candidate.txt` and `NAME_subset.txt` together.",
                                elem_classes=["dynast-note"])
                    pose_files = gr.File(label="Keypoint files", file_count="multiple",
                                         file_types=[".json", ".txt"], height=190,
                                         elem_id="pose-files")
    source = choice.radio
    refs = example_paths("pose", "reference")
    tgts = example_paths("pose", "target")
    rows: list[list[Any]] = [[r, t, "photo", None] for r, t in zip(refs, tgts)]
    labels = [f"{example_name(r)} → pose of the photo '{example_name(t)}'"
              for r, t in zip(refs, tgts)]
    for i, name in enumerate(list(poses)[:2] if refs else []):
        rows.append([refs[i % len(refs)], None, "shipped pose", name])
        labels.append(f"{example_name(refs[i % len(refs)])} → shipped pose '{name}'")
    if rows:  # every example sets the target source too
        gr.Examples(rows, inputs=[reference, target, source, pose_name], example_labels=labels,
                    label="Examples (click one: it fills the inputs and picks the target tab)")
    opts = advanced_options("pose", settings)
    run = gr.Button("Generate", variant="primary", elem_id="pose-run")
    outs = output_panel(TEXT)

    pose_name.change(pose_preview, inputs=pose_name, outputs=preview, api_visibility="private")
    wire_run(TabParts(run, opts, note, outs), make_handler(settings, store),
             [reference, target, source, pose_name, pose_files, *opts.inputs(),
              outs.normalisation], settings, store)
