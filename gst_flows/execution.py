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


class _FailureCollector(logging.Handler):
    """Keeps, for each job that failed, its name and the last error line of its exception."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.reasons: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if " failed with exception:" not in message:
            return
        name, _, trace = message.partition(" failed with exception:")
        lines = [line.strip() for line in trace.strip().splitlines() if line.strip()]
        # the last error line: the final exception ("...Error: MD blew up at step 78 ...") or,
        # for a LAMMPS failure, its "ERROR: ..." line rather than the input line after it
        errors = [line for line in lines if "Error:" in line or line.startswith("ERROR")]
        reason = errors[-1] if errors else lines[-1] if lines else "unknown error"
        self.reasons.append(f"{name}: {reason}")


def run_local(
    flow: Flow | Job,
    settings: GstFlowsSettings | None = None,
    failures: list[str] | None = None,
    **kwargs: Any,
):
    """Run ``flow`` in this process with jobflow's ``run_locally`` on the configured store.

    Job directories are created under ``<data_dir>/runs``.

    Parameters
    ----------
    flow
        The flow or job.
    settings
        Settings (the configured ones when omitted).
    failures
        When given, a line per failed job (its name and the last line of its exception, e.g.
        ``MD blew up at step 78 ...``) is appended to it, so a command can say why.
    **kwargs
        Passed to ``run_locally``.
    """
    from jobflow.managers.local import run_locally

    settings = settings or get_settings()
    root = Path(settings.data_dir) / "runs"
    root.mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("create_folders", True)
    kwargs.setdefault("ensure_success", False)
    kwargs.setdefault("log", logging.getLogger().isEnabledFor(logging.INFO))
    jobflow_log = logging.getLogger("jobflow.managers.local")
    collector, level = _FailureCollector(), jobflow_log.level
    if failures is not None:
        jobflow_log.addHandler(collector)
        if not jobflow_log.isEnabledFor(logging.INFO):
            jobflow_log.setLevel(logging.INFO)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module="jobflow")
            return run_locally(flow, store=get_store(settings), root_dir=root, **kwargs)
    finally:
        if failures is not None:
            jobflow_log.removeHandler(collector)
            jobflow_log.setLevel(level)
            failures.extend(collector.reasons)


def packed_workflow(flow: Flow | Job, store, pack_size: int = 1):
    """Convert ``flow`` to a FireWorks ``Workflow``, packing independent jobs together.

    Jobs without parents that share a FireWorks category are grouped ``pack_size`` at a time
    into one Firework holding one ``JobFiretask`` each, so one queue allocation runs several
    small jobs (e.g. DFT labels of small cells) one after another. Every job still stores its
    own document. With ``pack_size=1`` this is jobflow's ``flow_to_workflow``.
    """
    from fireworks import Firework, Workflow
    from jobflow.core.flow import get_flow
    from jobflow.managers.fireworks import JobFiretask, job_to_firework

    if pack_size < 1:
        raise ValueError(f"pack_size must be at least 1, got {pack_size}")
    flow = get_flow(flow)
    ordered = list(flow.iterflow())  # topological: parents before children
    mapping: dict[str, Firework] = {}
    fireworks: list[Firework] = []
    groups: dict[str, list[Job]] = {}
    if pack_size > 1:
        for job, parents in ordered:
            if not parents:
                groups.setdefault(job.config.manager_config.get("_category", ""), []).append(job)
    packed_uuids = {j.uuid for jobs in groups.values() for j in jobs}
    for jobs in groups.values():
        for start in range(0, len(jobs), pack_size):
            chunk = jobs[start : start + pack_size]
            spec = {"_add_launchpad_and_fw_id": True, **chunk[0].config.manager_config}
            name = chunk[0].name if len(chunk) == 1 else f"{chunk[0].name} (+{len(chunk) - 1})"
            packed = Firework([JobFiretask(job=j, store=store) for j in chunk], spec=spec, name=name)
            mapping.update(dict.fromkeys((j.uuid for j in chunk), packed))
            fireworks.append(packed)
    for job, parents in ordered:
        if job.uuid not in packed_uuids:
            fireworks.append(job_to_firework(job, store, parents=parents, parent_mapping=mapping))
    return Workflow(fireworks, name=flow.name)


def submit(flow: Flow | Job, settings: GstFlowsSettings | None = None, pack_size: int = 1) -> list[int]:
    """Add ``flow`` to the LaunchPad; return the new Firework ids.

    Each Firework holds the store only as :class:`~gst_flows.db.jobstore.ConfiguredJobStore`
    (no address, no credentials): a worker connects to the database of its own gst-flows
    configuration, without a jobflow configuration. ``pack_size`` > 1 packs independent jobs
    of one category into shared Fireworks (see :func:`packed_workflow`).
    """
    settings = settings or get_settings()
    assign_categories(flow)
    workflow = packed_workflow(flow, get_store(settings), pack_size)
    mapping = get_launchpad(settings).add_wf(workflow)
    return sorted(mapping.values())
