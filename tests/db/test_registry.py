"""The label registry: of several processes claiming one label at once, exactly one wins."""

from __future__ import annotations

import multiprocessing

from gst_flows.db import registry as reg
from gst_flows.store import get_store

KEYS = [f"{k:040x}" for k in range(40)]


def _claim_all(name, ready, go, results):
    """Child process: connect, report ready, then claim every key as fast as it can."""
    store = get_store()
    store.connect()
    reg.registry(store)
    ready.put(True)
    go.wait()
    results.put((name, [reg.claim_label(store, key, "f" * 40, name).mine for key in KEYS]))


def test_one_winner_per_claim_across_processes(gst_home):
    ctx = multiprocessing.get_context("spawn")
    ready, go, results = ctx.Queue(), ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=_claim_all, args=(f"w{k}", ready, go, results)) for k in range(4)]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=120)
    go.set()
    won = dict(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    # every key has exactly one owner, and the registry names the winner
    winners = [[name for name, mine in won.items() if mine[k]] for k in range(len(KEYS))]
    assert all(len(w) == 1 for w in winners), [len(w) for w in winners]
    store = get_store()
    store.connect()
    owners = {d["_id"]: d["owner"] for d in reg.registry(store).find({})}
    assert all(owners[reg.label_key(key, "f" * 40)] == w[0] for key, w in zip(KEYS, winners, strict=True))
