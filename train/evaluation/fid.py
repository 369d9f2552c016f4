"""FID needs pytorch-fid's Inception-v3; this project does not re-implement that network. The
evaluator writes the generated and real images (``--save-images DIR``) for pytorch-fid to score."""

from __future__ import annotations


def fid_status(inception_path: str, saved_images: str) -> dict[str, object]:
    """What the results say about FID (never a number computed by a stand-in network)."""
    command = (
        f"python -m pytorch_fid {saved_images}/real {saved_images}/generated"
        if saved_images
        else "python -m pytorch_fid REAL_DIR GENERATED_DIR (write them with --save-images DIR)"
    )
    if inception_path:
        command += (
            " (pytorch-fid loads its Inception weights from the torch hub cache; "
            f"put {inception_path} there)"
        )
    return {
        "available": False,
        "reason": "FID is not computed in-process (no pytorch-fid Inception-v3 here)",
        "how": command,
    }
