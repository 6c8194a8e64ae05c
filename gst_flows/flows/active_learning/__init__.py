"""The active-learning loop: label, fit, explore with the potential, select, label, refit.

iter-0 labels crystals (rattled and strained copies), optional CP2K AIMD snapshots, isolated
atoms and a held-out set; every later iteration explores with GAP-driven MD (iter-1, repeated
``melt_quench_rounds`` times: melt-quench; then iter-2: crystallisation from a template after
melting the middle of a crystallisation cell, and partial melting of crystals, so ordered and
disordered regions coexist), selects diverse frames in SOAP space, labels them and refits. The
loop decides at run time, with jobflow's dynamic responses, whether to continue: it stops at a
target held-out force RMSE, when the improvement falls below a threshold, or after
``max_iterations``.

Every explored frame is classified by what it is: its SOAP crystalline fraction (k̄,
:mod:`gst_flows.analysis.crystallinity`) makes it ``crystal``, ``phase_transition`` (crystal
and non-crystal both substantial), or ``liquid``/``amorphous`` (by the thermostat temperature).

Every random choice of the loop (MD velocities and thermostat noise, committee subsamples,
gap_fit's seed) takes a seed derived from the maker's ``seed``, the iteration and the run or
member index (:func:`derive_seed`), recorded in the documents and the labels' provenance; the
training set is read in a content-defined order. Two runs with the same seed on the same
machine and thread count give the same labels, selections and potentials.

The held-out set carries its own tag (``<tag>-heldout``) and never enters training.

Modules: :mod:`~gst_flows.flows.active_learning.maker` (:class:`ActiveLearningMaker` and
iteration 0), :mod:`~gst_flows.flows.active_learning.jobs` (the jobs made at run time:
:func:`al_fit`, :func:`al_decide`, :func:`al_explore`, :func:`al_md`, :func:`al_select`),
:mod:`~gst_flows.flows.active_learning.candidates` (crystalline fractions, histograms,
candidate frames, committee spread), :mod:`~gst_flows.flows.active_learning.decision`
(stopping rules) and :mod:`~gst_flows.flows.active_learning.seeds` (:func:`derive_seed`). The
jobs hand on a :class:`~gst_flows.schemas.active_learning.LoopState`. Import from this
package: its objects name it as their module, so jobs and makers serialised by jobflow
(``@module``, e.g. in a FireWorks spec) do not depend on where in the package they are defined.
"""

from inspect import isclass as _isclass
from inspect import isfunction as _isfunction

from gst_flows.flows.active_learning.candidates import _candidates as _candidates
from gst_flows.flows.active_learning.candidates import (
    calculator_spread,
    committee_force_spread,
    format_histogram,
    fraction_histogram,
    measured_config_type,
)
from gst_flows.flows.active_learning.decision import convergence_decision, overall_errors
from gst_flows.flows.active_learning.jobs import al_decide, al_explore, al_fit, al_md, al_select
from gst_flows.flows.active_learning.maker import (
    ActiveLearningMaker,
    default_device_makers,
    structures_from_atoms,
)
from gst_flows.flows.active_learning.seeds import derive_seed
from gst_flows.schemas.active_learning import HistoryRow, LoopState

__all__ = [
    "ActiveLearningMaker",
    "HistoryRow",
    "LoopState",
    "al_decide",
    "al_explore",
    "al_fit",
    "al_md",
    "al_select",
    "calculator_spread",
    "committee_force_spread",
    "convergence_decision",
    "default_device_makers",
    "derive_seed",
    "format_histogram",
    "fraction_histogram",
    "measured_config_type",
    "overall_errors",
    "structures_from_atoms",
]

# jobflow records a job's function and a maker's class by module (``@module``), and jobs queued
# or stored before this package was split name ``gst_flows.flows.active_learning``: keep that the
# module of every public class and function defined in the package. A job records its
# undecorated function (``original``), so that is renamed too. (LoopState lives in the schemas.)
for _obj in [globals()[_name] for _name in __all__]:
    if (_isclass(_obj) or _isfunction(_obj)) and _obj.__module__.startswith(f"{__name__}."):
        _obj.__module__ = __name__
        if hasattr(_obj, "original"):
            _obj.original.__module__ = __name__
del _obj
