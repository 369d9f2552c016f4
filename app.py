"""Entry point of the DynaST app (also the Hugging Face Spaces ``app_file``).

    python app.py            # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT)

Checkpoints: ``checkpoints/<task>/`` by default; override with DYNAST_CHECKPOINTS_DIR or
DYNAST_POSE_CHECKPOINT / DYNAST_FACE_CHECKPOINT / DYNAST_STYLE_CHECKPOINT.
"""
from __future__ import annotations

import logging

from app import build_app, launch

demo = build_app()

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    launch(demo)
