"""Law files: documented keys are validated, and every error names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from precplan import load_law, save_law
from precplan.errors import LawFileError, PrecplanError
from precplan.laws._file import laws_dir, read_law_file

from reference import KUMAR, kumar_loss


def write(tmp_path: Path, data: object, name: str = "my.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def kumar_data() -> dict:
    return yaml.safe_load((laws_dir() / "kumar2024.yaml").read_text())


def test_round_trip(tmp_path: Path) -> None:
    law = load_law("kumar2024")
    path = save_law(law, tmp_path / "copy.yaml")
    again = read_law_file(path)
    assert again.values == law.values
    assert again.assumed == law.assumed and dict(again.fit_range) == dict(law.fit_range)
    assert float(again.loss(1e8, 1e10, 4, 8, 8, post=4)) == float(law.loss(1e8, 1e10, 4, 8, 8, post=4))


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda d: d.pop("citation"), "missing key 'citation'"),
        (lambda d: d.update(colour="blue"), "unknown key 'colour'"),
        (lambda d: d["coefficients"].pop("gamma_w"), r"coefficients\.gamma_w: missing key"),
        (lambda d: d["coefficients"].update(zeta={"value": 1, "source": "published"}), r"coefficients\.zeta: unknown key"),
        (lambda d: d["coefficients"]["alpha"].update(value="a lot"), r"coefficients\.alpha\.value: 'a lot' is not a number"),
        (lambda d: d["coefficients"]["alpha"].update(value=-0.3), r"coefficients\.alpha\.value: must be positive"),
        (lambda d: d["coefficients"]["E"].update(source="guessed"), r"coefficients\.E\.source"),
        (lambda d: d["coefficients"]["E"].update(colour=1), r"coefficients\.E\.colour: unknown key"),
        (lambda d: d.update(form="cubic"), "form: 'cubic' is not a known form"),
        (lambda d: d["fit_range"].pop("bits"), r"fit_range\.bits: missing key"),
        (lambda d: d["fit_range"].update(params=[5, 1]), r"fit_range\.params: needs 0 < low <= high"),
        (lambda d: d.update(weight_format="posit"), "weight_format"),
    ],
)
def test_malformed_files_name_file_and_key(tmp_path: Path, mutate, match: str) -> None:
    data = kumar_data()
    mutate(data)
    path = write(tmp_path, data)
    with pytest.raises(LawFileError, match=match) as info:
        read_law_file(path)
    assert str(path) in str(info.value)


def test_chinchilla_form_rejects_precision_coefficients(tmp_path: Path) -> None:
    data = yaml.safe_load((laws_dir() / "hoffmann2022.yaml").read_text())
    data["coefficients"]["gamma_w"] = {"value": 2.0, "source": "assumed"}
    with pytest.raises(LawFileError, match="unknown key for form 'chinchilla'"):
        read_law_file(write(tmp_path, data))


def test_malformed_yaml(tmp_path: Path) -> None:
    with pytest.raises(LawFileError, match="malformed YAML at line 2"):
        read_law_file(write(tmp_path, "id: x\n  title: [unclosed\n"))
    with pytest.raises(LawFileError, match="must be a mapping"):
        read_law_file(write(tmp_path, "- just\n- a list\n"))


def test_unknown_law_lists_bundled_names() -> None:
    with pytest.raises(PrecplanError, match="unknown law 'kumar2025'.*kumar2024"):
        load_law("kumar2025")
    with pytest.raises(LawFileError, match="no such law file"):
        load_law("missing/law.yaml")


def test_user_law_file_predicts(tmp_path: Path) -> None:
    data = kumar_data()
    data["id"] = "mine"
    data["coefficients"]["E"]["value"] = 2.0
    law = load_law(str(write(tmp_path, data)))
    assert law.id == "mine"
    assert float(law.loss(220e6, 16e9)) == pytest.approx(float(load_law("kumar2024").loss(220e6, 16e9)) - 0.7648, rel=1e-12)
    assert float(law.loss(220e6, 16e9, 4, 8, 8)) == pytest.approx(kumar_loss(dict(KUMAR, E=2.0), 220e6, 16e9, 4, 8, 8), rel=1e-12)
