"""One-line descriptions of user mistakes (gst_flows.errors) and strict command-line values."""

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gst_flows.commands.common import parse_key_values, parse_value
from gst_flows.errors import InputError, mask_uri, one_line, validation_message, yaml_message


def test_mask_uri_hides_only_the_password():
    assert mask_uri("mongodb://alice:pa55@db.host:27017/x") == "mongodb://alice:***@db.host:27017/x"
    assert mask_uri("at mongodb+srv://a:b@c/ and mongodb://d:e@f/") == (
        "at mongodb+srv://a:***@c/ and mongodb://d:***@f/"
    )
    assert mask_uri("mongodb://127.0.0.1:27017/") == "mongodb://127.0.0.1:27017/"


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    temperature: float = Field(ge=0)


class _Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stages: list[_Inner]
    name: str = "x"


def test_validation_message_names_the_field_and_counts_the_rest():
    with pytest.raises(ValidationError) as caught:
        _Outer(stages=[{"temperature": -1}, {"temperature": -2}], name=3)
    text = validation_message(caught.value)
    assert text.startswith("stages[0].temperature: Input should be greater than or equal to 0")
    assert "got -1" in text and text.endswith("and 2 more errors")
    assert "\n" not in text
    with pytest.raises(ValidationError) as caught:
        _Outer(stages=[], nmae="y")
    assert validation_message(caught.value, known=["stages", "name"]) == (
        "unknown key 'nmae' (known keys: stages, name)"
    )


def test_yaml_message_gives_line_and_context():
    with pytest.raises(yaml.YAMLError) as caught:
        yaml.safe_load("a: 1\nb: [1, 2\n")
    text = yaml_message(caught.value)
    assert text.startswith("line 3, column 1: not valid YAML")
    assert "line 2, column 4" in text  # where the unclosed list starts


def test_one_line_of_any_error():
    assert one_line(InputError("is empty", where="f.xyz", fix="give frames")) == (
        "f.xyz: is empty (give frames)"
    )
    assert one_line(ValueError("two\nlines  at mongodb://u:p@h/")) == "two lines at mongodb://u:***@h/"
    assert one_line(KeyError("no such id")) == "no such id"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("0.4", 0.4),
        ("1e-6", 1e-6),
        (".5", 0.5),
        ("3", 3),
        ("[6, 2, 4]", [6, 2, 4]),
        ('"300 K"', "300 K"),
        ("300 K", "300 K"),
        ("2 eV/ps", "2 eV/ps"),
        ("10ps", "10ps"),
        ("true", True),
        ("large", "large"),
        ("./gap.xml", "./gap.xml"),
        ("-PBE", "-PBE"),
    ],
)
def test_parse_value_accepts(raw, value):
    assert parse_value(raw) == value


@pytest.mark.parametrize(
    "raw", ["[6,2", "{a: 1}", '"open', "0.4.1", "6,2", "1e-", "+.5e-", "3 K K", "2 eV ps"]
)
def test_parse_value_refuses_what_starts_like_json_or_a_number(raw):
    with pytest.raises(InputError, match="--set key"):
        parse_value(raw, where="--set key")


def test_parse_key_values_needs_key_and_equals():
    assert parse_key_values(["a=1", "b = x"], option="--set") == {"a": 1, "b": " x"}
    for bad in ("novalue", "=3"):
        with pytest.raises(InputError, match="expected KEY=VALUE"):
            parse_key_values([bad], option="--set")
