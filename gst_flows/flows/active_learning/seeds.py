"""Seeds of the loop's random choices, derived from the flow's seed."""

import hashlib

import numpy as np

__all__ = ["derive_seed"]


def derive_seed(seed: int, iteration: int, index: int, purpose: str) -> int:
    """Seed of one random choice of the loop, from the flow's seed; never from time or ids.

    Parameters
    ----------
    seed
        The flow's seed (non-negative).
    iteration
        Loop iteration.
    index
        Run, structure or committee-member index within the iteration.
    purpose
        What the seed is for (``"md"``, ``"committee"``, ``"gap_fit"``): distinct streams.

    Returns
    -------
    int
        A seed in [0, 2**31).
    """
    code = int.from_bytes(hashlib.sha256(purpose.encode()).digest()[:4], "little")
    state = np.random.SeedSequence([seed, iteration, index, code]).generate_state(1)
    return int(state[0] % (2**31))
