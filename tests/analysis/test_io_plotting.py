import numpy as np
import pytest
from ase.io import read
from ase.units import kB

from gst_flows.analysis import (
    altbc,
    bond_angle_distribution,
    crystallinity,
    radial_distribution,
    ring_statistics,
    temperature_map,
    temperature_profile,
    write_kbar_extxyz,
)
from gst_flows.analysis.soap_map import embed_kernel
from gst_flows.plotting import (
    plot_altbc,
    plot_angles,
    plot_crystallinity_series,
    plot_rdf,
    plot_rings,
    plot_soap_map,
    plot_temperature_map,
    plot_temperature_profile,
    save_figure,
)


def test_kbar_extxyz_round_trip(tmp_path, gete):
    kbar = crystallinity(gete)
    path = tmp_path / "kbar.extxyz"
    write_kbar_extxyz(path, [gete, gete], [kbar, 0.5 * kbar], threshold=0.75)
    frames = read(path, ":")
    assert len(frames) == 2
    assert np.allclose(frames[0].arrays["kbar"], kbar)
    assert np.allclose(frames[1].arrays["kbar"], 0.5 * kbar)
    assert frames[0].arrays["crystalline"].all()
    assert not frames[1].arrays["crystalline"].any()
    with pytest.raises(ValueError, match="one kbar array per frame"):
        write_kbar_extxyz(path, [gete], [kbar, kbar])


def test_figures_written_as_png_and_pdf(tmp_path, gete):
    hot = gete.repeat(2)
    hot.set_momenta(
        np.random.default_rng(0).normal(0, 1, (len(hot), 3)) * np.sqrt(hot.get_masses()[:, None] * kB * 300)
    )
    v = np.random.default_rng(1).random((5, 4))
    figures = {
        "rdf": plot_rdf(radial_distribution(gete, 6.0)),
        "adf": plot_angles(bond_angle_distribution(gete)),
        "rings": plot_rings({"a": ring_statistics(gete, max_size=6), "b": ring_statistics(gete, max_size=4)}),
        "altbc": plot_altbc(altbc(gete)),
        "series": plot_crystallinity_series(
            np.arange(3.0), {"crystalline_fraction": np.array([0, 0.5, 1]), "density": np.ones(3)}
        ),
        "tmap": plot_temperature_map(temperature_map(hot, "xz", 3.0, 3.0)),
        "tprof": plot_temperature_profile([temperature_profile(hot, "z", 3.0)], ["frame 0"]),
        "map": plot_soap_map(embed_kernel(v @ v.T / 4), ["0", "0", "1", "1", "2"], marker_by=list("aabbc")),
    }
    for name, fig in figures.items():
        paths = save_figure(fig, tmp_path / "figs" / name)
        assert [p.suffix for p in paths] == [".png", ".pdf"]
        assert all(p.stat().st_size > 1000 for p in paths)
    with pytest.raises(ValueError, match="2D map"):
        plot_temperature_map(temperature_profile(hot))
