from __future__ import annotations

import pytest

from gst_flows.fit import (
    FitInputError,
    GapHyperparameters,
    Sigma,
    SoapParams,
    ThreeBodyParams,
)
from gst_flows.fit.descriptors import DataCounts, DescriptorCount
from gst_flows.fit.gap_fit import gap_fit_parameters, render_config


def test_defaults_are_valid_and_suit_three_species():
    hp = GapHyperparameters()
    hp.validate()
    assert hp.two_body is not None
    assert hp.three_body is None
    assert hp.soap.n_max == 8
    assert hp.soap.l_max == 6
    assert hp.soap.dimension(3) == 7 * 24 * 25 // 2 + 1
    # Crystals are regularised more tightly than liquids.
    assert hp.sigma_for("crystal").force < hp.sigma_for("liquid").force
    assert hp.sigma_for("unknown") == hp.default_sigma


def test_updated_converts_dotted_strings():
    hp = GapHyperparameters().updated(
        {
            "soap.n_max": "4",
            "soap.cutoff": "4.5",
            "three_body": "on",
            "three_body.n_sparse": "30",
            "sigma.liquid": "0.004,0.2,0.3",
            "sigma.default": "0.003 0.1 0.1",
            "e0.Ge": "-107.25",
            "seed": "7",
            "strict_n_sparse": "false",
        }
    )
    assert hp.soap.n_max == 4
    assert isinstance(hp.soap.n_max, int)
    assert hp.soap.cutoff == 4.5
    assert isinstance(hp.three_body, ThreeBodyParams)
    assert hp.three_body.n_sparse == 30
    assert hp.config_type_sigma["liquid"] == Sigma(0.004, 0.2, 0.3)
    assert hp.default_sigma == Sigma(0.003, 0.1, 0.1)
    assert hp.e0 == {"Ge": -107.25}
    assert hp.seed == 7
    assert hp.strict_n_sparse is False
    off = hp.updated({"two_body": "off"})
    assert off.two_body is None
    assert hp.two_body is not None  # the original is untouched


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("soap.nmax", "4", "unknown hyperparameter"),
        ("bogus", "1", "unknown hyperparameter"),
        ("soap.n_max", "four", "cannot set"),
        ("soap.n_max", "4.5", "cannot set"),
        ("sigma.crystal", "0.1", "3 or 4 numbers"),
    ],
)
def test_updated_rejects_bad_keys_and_values(key, value, match):
    with pytest.raises(FitInputError, match=match):
        GapHyperparameters().updated({key: value})


@pytest.mark.parametrize("kind", ["energy", "force", "virial"])
@pytest.mark.parametrize("value", [0.0, -0.1])
def test_sigma_must_be_positive(kind, value):
    sigma = Sigma(0.001, 0.05, 0.05)
    setattr(sigma, kind, value)
    hp = GapHyperparameters(config_type_sigma={"crystal": sigma})
    with pytest.raises(FitInputError, match=rf"sigma {kind} for config_type 'crystal'.*must be > 0"):
        hp.validate()
    with pytest.raises(FitInputError, match="must be > 0"):
        GapHyperparameters().updated({"sigma.default": f"{value} 0.1 0.1"})


def test_other_invalid_settings():
    with pytest.raises(FitInputError, match="no descriptor"):
        GapHyperparameters(two_body=None, soap=None).validate()
    with pytest.raises(FitInputError, match="uniform"):
        GapHyperparameters(three_body=ThreeBodyParams(sparse_method="uniform")).validate()
    with pytest.raises(FitInputError, match="n_sparse"):
        GapHyperparameters(soap=SoapParams(n_sparse=0)).validate()


def test_round_trip_through_dict_and_json():
    import json

    from monty.json import MontyDecoder, MontyEncoder

    hp = GapHyperparameters(e0={"Ge": -1.0}).updated({"three_body": "on", "soap.zeta": "2"})
    again = GapHyperparameters.from_dict(hp.as_dict())
    assert again == hp
    decoded = json.loads(json.dumps(hp, cls=MontyEncoder), cls=MontyDecoder)
    assert decoded == hp


def test_config_text_carries_every_setting():
    hp = GapHyperparameters(seed=5)
    counts = DataCounts(
        n_energies=3,
        n_forces=30,
        n_virials=6,
        n_atoms=10,
        species=["Ge", "Te"],
        descriptors=[
            DescriptorCount("two_body", ("Ge", "Te"), 1, 40, 720, 20, 20),
            DescriptorCount("soap", ("Ge",), hp.soap.dimension(2), 5, 900, 500, 5),
        ],
        empty=[],
    )
    params = gap_fit_parameters(counts, hp, {"Ge": -1.5, "Te": -2.5}, "train.xyz", "gap.xml")
    text = render_config(params)
    assert "distance_2b add_species=F Z1=32 Z2=52 cutoff=5.5 n_sparse=20" in text
    assert "soap add_species=F n_species=2 species_Z={{32 52}} Z=32" in text
    assert "n_sparse=5 " in text  # the capped count is what gap_fit is given
    assert 'e0="Ge:-1.5:Te:-2.5"' in text
    assert "rnd_seed=5" in text
    assert "config_type_sigma={isolated_atom:0.0001:0.01:0.01:0.0:crystal:0.001:0.05" in text
    assert "virial_parameter_name=REF_virial" in text
