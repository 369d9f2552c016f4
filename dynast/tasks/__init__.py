"""The registry of tasks: the only list of what DynaST is used for.

>>> from dynast.tasks import get_task, task_names
>>> task_names()
('pose', 'face', 'style')
>>> get_task("style").ref_semantic_nc
0

A task is a :class:`TaskSpec` (see :mod:`dynast.tasks.spec`); adding one is
``register_task(TaskSpec(...))`` (docs/ADDING_A_TASK.md). The pipeline, the app, the CLI and
checkpoint lookup find tasks here.
"""
from __future__ import annotations

import threading

from dynast.errors import UnknownTask
from dynast.tasks.pose_target import PoseTarget, pose_target_from_file, read_pose_file
from dynast.tasks.spec import Framing, Prepared, PrepareFn, PrepareRequest, TaskSpec

__all__ = [
    "Framing",
    "PoseTarget",
    "PrepareFn",
    "PrepareRequest",
    "Prepared",
    "TaskSpec",
    "UnknownTask",
    "get_task",
    "pose_target_from_file",
    "read_pose_file",
    "register_task",
    "task_names",
    "unregister_task",
]

_REGISTRY: dict[str, TaskSpec] = {}
_LOCK = threading.Lock()


def register_task(spec: TaskSpec, *, replace: bool = False) -> TaskSpec:
    """Add ``spec`` to the registry (``replace=True`` to redefine an existing name)."""
    with _LOCK:
        if spec.name in _REGISTRY and not replace and _REGISTRY[spec.name] is not spec:
            raise ValueError(f"a task named {spec.name!r} is already registered; pass "
                             "replace=True to redefine it")
        _REGISTRY[spec.name] = spec
    return spec


def unregister_task(name: str) -> None:
    """Remove a task (tests and plug-ins that registered one for a while)."""
    with _LOCK:
        _REGISTRY.pop(name, None)


def get_task(name: str | TaskSpec) -> TaskSpec:
    """The :class:`TaskSpec` called ``name`` (a spec is returned as it is)."""
    if isinstance(name, TaskSpec):
        return name
    spec = _REGISTRY.get(name) if isinstance(name, str) else None
    if spec is None:
        raise UnknownTask(f"unknown task {name!r}; choose one of {', '.join(task_names())}")
    return spec


def task_names() -> tuple[str, ...]:
    """Registered task names, in registration order."""
    return tuple(_REGISTRY)


def _register_builtin() -> None:
    from dynast.tasks import face, pose, style

    for module in (pose, face, style):
        register_task(module.SPEC)


_register_builtin()
