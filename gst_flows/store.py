"""Where documents go: a jobflow ``JobStore`` and a FireWorks ``LaunchPad`` from the settings.

With no ``db_uri`` configured, the embedded server is started on demand and its loopback URI is
used. Job documents land in a ``MongoStore``; arrays that grow with atoms or frames go to the
``data`` additional store, a ``GridFSStore`` in the same database.

The store is a :class:`gst_flows.db.jobstore.ConfiguredJobStore`: it finds its database from
the configuration of the process that connects it, at connection time. Submitted Fireworks therefore carry no
address and no credentials (only "use the configured store"), and a worker finds the database
even after the embedded server came back on another port.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gst_flows.dbserver import EmbeddedServer
from gst_flows.settings import GstFlowsSettings, get_settings

if TYPE_CHECKING:
    from fireworks import LaunchPad
    from jobflow import JobStore

__all__ = [
    "current_store",
    "database_uri",
    "get_database",
    "get_launchpad",
    "get_store",
]


def database_uri(settings: GstFlowsSettings | None = None) -> str:
    """Return the MongoDB URI to use, starting the embedded server if it is the default."""
    settings = settings or get_settings()
    if settings.db_uri:
        return settings.db_uri
    return EmbeddedServer(settings.data_dir).uri()


def get_store(settings: GstFlowsSettings | None = None) -> JobStore:
    """Build the jobflow ``JobStore``: documents in MongoDB, ``data`` in GridFS.

    Parameters
    ----------
    settings
        Settings to use; read from the configuration file and environment when omitted, and
        again by every process that connects a deserialised copy.

    Returns
    -------
    JobStore
        A :class:`ConfiguredJobStore` whose ``additional_stores["data"]`` is a GridFS store in
        the same database. Nothing is connected (and no server started) until ``connect()``.
    """
    from gst_flows.db.jobstore import ConfiguredJobStore

    return ConfiguredJobStore(settings)


def get_database(settings: GstFlowsSettings | None = None):
    """Return a plain pymongo ``Database`` of the job documents (for queries)."""
    import pymongo

    settings = settings or get_settings()
    client = pymongo.MongoClient(database_uri(settings), serverSelectionTimeoutMS=10000)
    return client[settings.database]


def get_launchpad(settings: GstFlowsSettings | None = None) -> LaunchPad:
    """Return the FireWorks ``LaunchPad`` in the configured (or embedded) database.

    An empty LaunchPad database is initialised on first use (``lpad reset`` of nothing).
    """
    from fireworks import LaunchPad

    settings = settings or get_settings()
    launchpad = LaunchPad(host=database_uri(settings), uri_mode=True, name=settings.launchpad_database)
    # A new database has no id counters yet: initialise it, never touching existing work.
    if (
        launchpad.fw_id_assigner.find_one() is None
        and launchpad.fireworks.count_documents({}) == 0
        and launchpad.workflows.count_documents({}) == 0
    ):
        launchpad.reset("", require_password=False)
    return launchpad


def current_store() -> JobStore:
    """The store of the running job when jobflow exposes it, else the configured one, connected.

    jobflow sets ``CURRENT_JOB.store`` only for jobs with ``config.expose_store``; every other
    job (and code outside a job) gets the store built from the settings, which on a worker is
    the same database.
    """
    from jobflow import CURRENT_JOB

    store = getattr(CURRENT_JOB, "store", None)
    if store is None:
        store = get_store()
    store.connect()
    return store
