"""Where a tab's input comes from, chosen by sub-tabs.

The choice is a hidden ``Radio`` (an input of the tab's handler, so the API and the examples
can set it): selecting a sub-tab sets it, and setting it (an example) selects the sub-tab.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gradio as gr

__all__ = ["SourceTabs"]


class SourceTabs:
    """``with SourceTabs(task, sources, label) as choice:`` then one ``with
    choice.tab(title, source):`` per source, in the order of ``sources``; ``choice.radio`` is
    the hidden input holding the selected source (elem ids ``{task}-source`` and
    ``{task}-source-tabs``)."""

    def __init__(self, task: str, sources: Sequence[str], label: str) -> None:
        self.sources = tuple(sources)
        self.radio = gr.Radio(list(self.sources), value=self.sources[0], visible=False,
                              label=label, elem_id=f"{task}-source")
        self.tabs = gr.Tabs(selected=self.sources[0], elem_id=f"{task}-source-tabs")
        self.radio.change(_select_tab, inputs=self.radio, outputs=self.tabs,
                          api_visibility="private", queue=False)

    def __enter__(self) -> SourceTabs:
        self.tabs.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.tabs.__exit__(*exc)

    def tab(self, title: str, source: str) -> gr.Tab:
        """The sub-tab of ``source`` (one of ``sources``), titled ``title``."""
        if source not in self.sources:
            raise ValueError(f"{source!r} is not one of {self.sources}")
        tab = gr.Tab(title, id=source)
        tab.select(lambda: source, outputs=self.radio, api_visibility="private", queue=False)
        return tab


def _select_tab(source: str) -> gr.Tabs:
    return gr.Tabs(selected=source)
