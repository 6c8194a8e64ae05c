"""Running flows: locally with ``run_locally``, or on the LaunchPad for FireWorks workers."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from jobflow import Flow, Job

from gst_flows.settings import GstFlowsSettings, get_settings
from gst_flows.store import get_launchpad, get_store

__all__ = ["assign_categories", "run_local", "submit"]


def assign_categories(flow: Flow | Job) -> None:
    """Set each job's FireWorks ``_category`` from its maker's ``fworker_category``.

    Fworkers with categories ``dft``, ``fit``, ``md`` or ``analysis`` then pick only the jobs
    meant for their nodes; a fworker without a category runs them all.
    """
    jobs = [flow] if isinstance(flow, Job) else list(flow.iterflow())
    for item in jobs:
        job = item[0] if isinstance(item, tuple) else item
        maker = getattr(job.function, "__self__", None) or getattr(job, "maker", None)
        category = getattr(maker, "fworker_category", None)
        if category:
            job.update_config({"manager_config": {"_category": category}})


def run_local(flow: Flow | Job, settings: GstFlowsSettings | None = None, **kwargs: Any):
    """Run ``flow`` in this process with jobflow's ``run_locally`` on the configured store.

    Job directories are created under ``<data_dir>/runs``.
    """
    from jobflow.managers.local import run_locally

    settings = settings or get_settings()
    root = Path(settings.data_dir) / "runs"
    root.mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("create_folders", True)
    kwargs.setdefault("ensure_success", False)
    kwargs.setdefault("log", logging.getLogger().isEnabledFor(logging.INFO))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module="jobflow")
        return run_locally(flow, store=get_store(settings), root_dir=root, **kwargs)


def submit(flow: Flow | Job, settings: GstFlowsSettings | None = None) -> list[int]:
    """Add ``flow`` to the LaunchPad; return the new Firework ids.

    The job store is serialised into each Firework, so workers write to the same database
    without a jobflow configuration of their own.
    """
    from jobflow.managers.fireworks import flow_to_workflow

    settings = settings or get_settings()
    assign_categories(flow)
    workflow = flow_to_workflow(flow, store=get_store(settings))
    mapping = get_launchpad(settings).add_wf(workflow)
    return sorted(mapping.values())
