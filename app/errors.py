"""One path for what goes wrong and what users should know: errors, warnings, status.

* :func:`user_errors` turns a handler's failures into :class:`gr.Error` (the toast, and the
  API's error message), logs ordinary input problems as one line (tracebacks only for real
  faults), and remembers the message per browser session so that the page can show it inline
  (:func:`failure_status`).
* :func:`guard_upload` makes an input component's decoding failures (non-images, decompression
  bombs) a clear message instead of "the upstream Gradio app has raised an exception".
* :func:`guard_number` does the same for a slider given something other than a number
  through the API, and :func:`guard_file_references` for a file reference to a server path
  that was never uploaded (Gradio refuses it with an empty message and a traceback).
* :func:`check_on_upload` checks an image the moment it is uploaded and says what is wrong
  under Generate (the upload is removed), before anything is run.
* :func:`status_markdown` formats the status line under the Generate button.

Messages never carry server paths: :func:`scrub` keeps only file names.
"""
from __future__ import annotations

import functools
import inspect
import logging
import math
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import gradio as gr

__all__ = ["user_errors", "guard_upload", "check_on_upload", "upload_problem", "guard_number",
           "guard_file_references", "scrub", "status_markdown", "failure_status",
           "running_status", "LOG"]

LOG = logging.getLogger("dynast.app")
_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[\\/][^\s'\"\\/]+(?:[\\/][^\s'\"\\/]*)+")
_LAST: OrderedDict[str, tuple[str, str]] = OrderedDict()
_LAST_LOCK = threading.Lock()
_LAST_MAX = 512


def scrub(message: str) -> str:
    """``message`` with every absolute path replaced by its file name."""
    def name(match: re.Match[str]) -> str:
        path = match.group(0)
        tail = path.rstrip(".,;:)]'\"")
        base = re.split(r"[\\/]", tail.rstrip("\\/"))[-1]
        return (base or "(a server folder)") + path[len(tail):]

    return _PATH.sub(name, message)


def _remember(request: Any, title: str, message: str) -> None:
    session = getattr(request, "session_hash", None)
    if not session:
        return
    with _LAST_LOCK:
        _LAST[session] = (title, message)
        _LAST.move_to_end(session)
        while len(_LAST) > _LAST_MAX:
            _LAST.popitem(last=False)


def _classify(exc: BaseException) -> tuple[str, str, bool]:
    """(title, message, is_user_error) for an exception raised by a handler."""
    if isinstance(exc, gr.Error):
        return exc.title if exc.title != "Error" else "Cannot use this input", exc.message, True
    if isinstance(exc, ValueError):
        return "Cannot use this input", str(exc), True
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return ("Out of memory", "The server ran out of memory: choose a lower resolution "
                "in Advanced options.", True)
    return ("Internal error", "Something went wrong on the server (the log has the details). "
            "Try other images or a lower resolution; if it persists, please report it.", False)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a handler: every failure becomes a :class:`gr.Error` with a readable message.

    A ``request`` argument of the handler (a ``gr.Request``) is used to remember the message
    for :func:`failure_status`.
    """
    signature = inspect.signature(fn)
    name = getattr(fn, "__name__", "handler")

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - never show a traceback to the user
            title, message, ordinary = _classify(exc)
            message = scrub(message)
            if ordinary:
                LOG.info("%s: refused input: %s", name, message.splitlines()[0][:300])
            else:
                LOG.exception("%s: unexpected failure", name)
            try:
                request = signature.bind_partial(*args, **kwargs).arguments.get("request")
            except TypeError:
                request = None
            _remember(request, title, message)
            # the toast shows "Error" whatever the title (Gradio 6.31): the title leads the text
            raise gr.Error(f"{title}: {message}", title=title, print_exception=False) from None

    return wrapper


def failure_status(request: gr.Request) -> str:
    """The last error of this browser session as a status line (for ``.failure()``)."""
    with _LAST_LOCK:
        title, message = _LAST.pop(getattr(request, "session_hash", "") or "",
                                   ("Cannot read the input", "An upload could not be read; "
                                    "the notice in the corner of the page says which."))
    return status_markdown(error=(title, message))


def running_status() -> str:
    """The status shown while a request runs (clears the previous run's)."""
    return "**Running…** (the progress bar is on the outputs below)"


def status_markdown(*, timings: str = "", warnings: list[str] | tuple[str, ...] = (),
                    error: tuple[str, str] | None = None) -> str:
    """Markdown for the status line: an error, or the timings and the warnings of a run."""
    if error is not None:
        title, message = error
        return f"**Error: {title}.** {message}"
    lines = [f"**Done:** {timings}"] if timings else []
    lines += [f"**Warning:** {scrub(w)}" for w in warnings]
    return "\n\n".join(lines)


def _refuse_huge(payload: Any) -> None:
    """Raise PIL's DecompressionBombError for an uploaded file that declares more pixels than
    the pipeline accepts (``dynast.semantics.image_io.MAX_PIXELS``); reads headers only."""
    from PIL import Image

    from dynast.semantics.image_io import MAX_PIXELS

    files = [payload]
    if hasattr(payload, "background"):  # a sketchpad value
        files = [payload.background, payload.composite, *(getattr(payload, "layers", None) or [])]
    for item in files:
        path = getattr(item, "path", None)
        if not path:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(path) as im:
                    width, height = im.size
        except Image.DecompressionBombError:
            raise
        except Exception:  # noqa: BLE001 - not an image: Gradio or the pipeline says so
            continue
        if width * height > MAX_PIXELS:
            raise Image.DecompressionBombError(f"{width}x{height} pixels")


def guard_upload(component: Any, label: str | None = None) -> Any:
    """Make ``component``'s upload decoding failures a clear :class:`gr.Error`.

    Gradio decodes some inputs itself (the sketchpad, images opened for their header); a file
    that is not an image or declares an enormous number of pixels fails there. The
    instance's method is wrapped rather than subclassing: a subclass would be a custom
    component that the front end does not know.
    """
    original = component.preprocess
    what = label or component.label or "image"

    @functools.wraps(original)
    def preprocess(payload: Any) -> Any:
        try:
            _refuse_huge(payload)  # before Gradio decodes anything (the sketchpad does)
            return original(payload)
        except gr.Error:
            raise
        except Exception as exc:  # noqa: BLE001
            if type(exc).__name__ == "DecompressionBombError":
                msg = (f"the uploaded file declares an enormous number of pixels ({exc}) "
                       "and was refused (a decompression bomb?); upload a picture of a few "
                       "megapixels.")
            else:
                msg = ("the uploaded file cannot be read as an image (a renamed or damaged "
                       "file?); upload a PNG, JPEG or WebP picture.")
            LOG.info("%s: refused upload: %s", what, type(exc).__name__)
            raise gr.Error(f"Cannot read the image: {what}: {msg}",
                           title="Cannot read the image", print_exception=False) from None

    component.preprocess = preprocess
    return component


def upload_problem(payload: Any) -> str:
    """What is wrong with an uploaded image file (Gradio's file payload: a dict or object with
    a ``path``), in plain words; "" when it reads as a picture of a sane size. Only the header
    is decoded, so a decompression bomb costs nothing."""
    from PIL import Image

    from dynast.semantics.image_io import MAX_PIXELS

    path = payload.get("path") if isinstance(payload, dict) else getattr(payload, "path", None)
    if not path:
        return ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                width, height = im.size
                im.verify()
    except Image.DecompressionBombError:
        width = height = MAX_PIXELS
    except Exception:  # noqa: BLE001 - whatever PIL says, the file is not a usable image
        return ("the file cannot be read as an image (a renamed or damaged file?); upload a "
                "PNG, JPEG or WebP picture.")
    if width * height > MAX_PIXELS:
        return ("the file declares an enormous number of pixels (a decompression bomb?); "
                "upload a picture of a few megapixels.")
    return ""


def check_on_upload(component: Any, status: Any) -> Any:
    """Check a file the moment it is uploaded to ``component`` (a gr.Image): a file that is
    not a readable picture is removed again and the reason shown in ``status`` (the line
    under Generate), instead of a broken preview and an error only after Generate."""
    what = component.label or "image"

    def check(payload: Any) -> tuple[Any, Any]:
        problem = upload_problem(payload)
        if not problem:
            return gr.skip(), gr.skip()
        LOG.info("%s: refused upload on arrival", what)
        return None, status_markdown(error=("Cannot read the image", f"{what}: {problem}"))

    component.upload(check, inputs=component, outputs=[component, status], preprocess=False,
                     queue=False, api_visibility="private", show_progress="hidden")
    return component


def guard_number(component: Any, what: str, example: str) -> Any:
    """Refuse, as a :class:`gr.Error`, a value of ``component`` (a slider) that is not a finite
    number (the API accepts any JSON: "256", null), naming ``what`` and an ``example``."""
    original = component.preprocess

    @functools.wraps(original)
    def preprocess(payload: Any) -> Any:
        if (isinstance(payload, bool) or not isinstance(payload, (int, float))
                or not math.isfinite(payload)):
            shown = repr(payload)[:20]
            raise gr.Error(f"Cannot use this input: the {what} must be a number, e.g. {example} "
                           f"(got {shown}).", title="Cannot use this input",
                           print_exception=False)
        return original(payload)

    component.preprocess = preprocess
    return component


def guard_file_references(demo: gr.Blocks) -> gr.Blocks:
    """Make Gradio's refusal of a file reference that points into the server (a path never
    uploaded, e.g. ``{"path": "/etc/passwd"}`` sent to the API) a clear :class:`gr.Error`
    logged as one line, instead of an empty error and a traceback in the server log."""
    from gradio.exceptions import InvalidPathError

    original = demo.preprocess_data

    @functools.wraps(original)
    async def preprocess_data(*args: Any, **kwargs: Any) -> Any:
        try:
            return await original(*args, **kwargs)
        except InvalidPathError:
            LOG.info("refused a file reference that was not uploaded")
            raise gr.Error("Cannot use this input: a file was named by its path on the server "
                           "instead of being uploaded. Upload the file (with gradio_client: "
                           "handle_file) and try again.", title="Cannot use this input",
                           print_exception=False) from None

    demo.preprocess_data = preprocess_data  # type: ignore[method-assign]
    return demo
