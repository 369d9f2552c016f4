"""The "Pose transfer" tab: dress a target pose in a reference person's appearance."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from app.common import (
    EXAMPLES,
    AppSettings,
    advanced_options,
    connect_inspector,
    example_paths,
    gpu,
    image_input,
    missing_banner,
    output_panel,
    run_pipeline,
    user_errors,
)
from dynast.pipeline import pose_target_from_file

SOURCES = ("photo", "shipped pose", "keypoint file")
POSES_DIR = EXAMPLES / "poses"


def shipped_poses() -> dict[str, Path]:
    """Name -> OpenPose JSON of the poses shipped in examples/poses/."""
    if not POSES_DIR.is_dir():
        return {}
    return {p.stem: p for p in sorted(POSES_DIR.glob("*.json"))}


def pose_preview(name: str | None) -> np.ndarray | None:
    """Draw a shipped pose (for the preview next to the dropdown)."""
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


def make_handler(settings: AppSettings):
    """The /pose endpoint."""

    @gpu
    @user_errors
    def pose(reference: str | None, target: str | None, target_source: str = "photo",
             pose_name: str | None = None, pose_files: Any = None, resolution: float = 256,
             top_k: float = 4, precision: str = "auto", checkpoint: str | None = None
             ) -> tuple[Any, ...]:
        """Pose transfer: the reference person in the target pose.

        Args:
            reference: photo of the person whose appearance is used.
            target: photo whose pose is extracted (target_source "photo").
            target_source: "photo", "shipped pose" (pose_name) or "keypoint file" (pose_files).
            pose_name: one of the shipped poses (examples/poses).
            pose_files: an OpenPose JSON file, or a NAME_candidate.txt + NAME_subset.txt pair.
        Returns the generated image first, then the semantics drawing, warps, confidences,
        timings.
        """
        if reference is None:
            raise gr.Error("Upload a reference photo of a person (full body, one person).")
        if target_source == "photo":
            if target is None:
                raise gr.Error("Upload a target photo whose pose to copy, or choose a shipped "
                               "pose / a keypoint file as the target.")
            tgt: Any = target
        elif target_source == "shipped pose":
            poses = shipped_poses()
            if pose_name not in poses:
                raise gr.Error(f"Pick one of the shipped poses ({', '.join(poses) or 'none'}).")
            tgt, notes = pose_target_from_file(poses[pose_name])  # type: ignore[index]
        elif target_source == "keypoint file":
            files = _files(pose_files)
            if not files:
                raise gr.Error("Upload an OpenPose .json file, or the two files "
                               "NAME_candidate.txt and NAME_subset.txt.")
            tgt, notes = pose_target_from_file(files)
            for n in notes:
                gr.Warning(n)
        else:
            raise gr.Error(f"target_source must be one of {', '.join(SOURCES)}.")
        return run_pipeline(settings, "pose", reference, tgt, resolution=resolution,
                            top_k=top_k, precision=precision, checkpoint=checkpoint)

    return pose


def build(settings: AppSettings) -> None:
    """Build the tab (inside a ``gr.Tab``)."""
    missing_banner("pose", settings)
    gr.Markdown("Upload a **reference** person; give the **target pose** as a photo (its pose "
                "is extracted with MediaPipe), one of the shipped poses, or an OpenPose "
                "keypoint file. One person per photo, whole body visible works best.")
    poses = shipped_poses()
    with gr.Row():
        reference = image_input("Reference person", elem_id="pose-reference")
        with gr.Column():
            source = gr.Radio(list(SOURCES), value="photo", label="Target pose from",
                              elem_id="pose-source")
            target = image_input("Target photo (pose extracted)", elem_id="pose-target")
            with gr.Row():
                pose_name = gr.Dropdown(list(poses), value=next(iter(poses), None),
                                        label="Shipped pose", elem_id="pose-preset")
                preview = gr.Image(value=pose_preview(next(iter(poses), None)),
                                   label="Shipped pose preview", interactive=False, height=160,
                                   format="png")
            pose_files = gr.File(label="OpenPose keypoints (.json, or _candidate.txt + "
                                       "_subset.txt)", file_count="multiple",
                                 file_types=[".json", ".txt"], height=100)
    opts = advanced_options("pose", settings)
    run = gr.Button("Generate", variant="primary", elem_id="pose-run")
    outs = output_panel("pose")

    refs = example_paths("pose", "reference")
    tgts = example_paths("pose", "target")
    if refs and tgts:
        gr.Examples([[r, t] for r, t in zip(refs, tgts)], inputs=[reference, target],
                    label="Examples (reference, target photo)")

    pose_name.change(lambda n: pose_preview(n), inputs=pose_name, outputs=preview,
                     api_visibility="private")
    pose_name.change(lambda n: "shipped pose", inputs=pose_name, outputs=source,
                     api_visibility="private")
    pose_files.upload(lambda f: "keypoint file", inputs=pose_files, outputs=source,
                      api_visibility="private")
    target.upload(lambda t: "photo", inputs=target, outputs=source, api_visibility="private")
    run.click(make_handler(settings),
              inputs=[reference, target, source, pose_name, pose_files, *opts.inputs()],
              outputs=outs.run_outputs(), api_name="pose")
    connect_inspector(outs)
