"""CP2K labelling: input writing, running (through custodian) and parsing.

The default protocol follows the project's reference settings: PBEsol (CP2K's ``&PBE`` with
``PARAMETRIZATION PBESOL``), DZVP-MOLOPT-SR-GTH basis sets, GTH-PBE pseudopotentials (no PBEsol
ones exist for Ge, Sb, Te), 300 Ry / REL_CUTOFF 50 Ry, EPS_SCF 1e-6, diagonalisation with
Fermi-Dirac smearing, Broyden mixing, a Monkhorst-Pack mesh from a k-point spacing (0.12 Å⁻¹), and
analytical stress. Results are converted to eV, eV/Å and GPa here, once.

Modules: :mod:`~gst_flows.dft.cp2k.settings` (the protocol and its hash),
:mod:`~gst_flows.dft.cp2k.inputs` (input writing), :mod:`~gst_flows.dft.cp2k.outputs` (output
parsing) and :mod:`~gst_flows.dft.cp2k.run` (running, through custodian). Import from this
package.
"""

from gst_flows.dft.cp2k.inputs import AU_TIME_FS as AU_TIME_FS
from gst_flows.dft.cp2k.inputs import INPUT_FILE as INPUT_FILE
from gst_flows.dft.cp2k.inputs import PROJECT as PROJECT
from gst_flows.dft.cp2k.inputs import kpoint_mesh, write_cp2k_input
from gst_flows.dft.cp2k.outputs import HA_BOHR_TO_EV_ANG as HA_BOHR_TO_EV_ANG
from gst_flows.dft.cp2k.outputs import OUTPUT_FILE as OUTPUT_FILE
from gst_flows.dft.cp2k.outputs import Cp2kError, Cp2kResult, parse_cp2k_output
from gst_flows.dft.cp2k.run import _own_process_job as _own_process_job
from gst_flows.dft.cp2k.run import label_structure, run_cp2k
from gst_flows.dft.cp2k.settings import BASIS_FILE as BASIS_FILE
from gst_flows.dft.cp2k.settings import POTENTIAL_FILE as POTENTIAL_FILE
from gst_flows.dft.cp2k.settings import VALENCE as VALENCE
from gst_flows.dft.cp2k.settings import Cp2kSettings

__all__ = [
    "Cp2kError",
    "Cp2kResult",
    "Cp2kSettings",
    "kpoint_mesh",
    "label_structure",
    "parse_cp2k_output",
    "run_cp2k",
    "write_cp2k_input",
]

# The classes were defined in this module before the package was split: they keep it as
# theirs, so their names (repr, pickles, any ``@module`` written of them) do not depend on
# where in the package they are defined.
for _cls in (Cp2kError, Cp2kResult, Cp2kSettings):
    _cls.__module__ = __name__
del _cls
