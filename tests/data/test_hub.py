"""The authors' hub split files: the mirror layout, checksums, revisions, and loud failures on wrong guesses.

The hub itself is not reachable here: the online path is tested with `hf_hub_download` and `HfApi`
monkeypatched to serve the fixture folder (tests/data/hub), not against a loopback hub server.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from helpers import REPO

from mumo.data import hub as hub_module
from mumo.data.download import DownloadError, sha256sum
from mumo.data.hub import HubError, HubSource, parse_card, read_authors
from mumo.data.registry import HubConfig, get_dataset

MIRROR = REPO / "tests" / "data" / "hub"


def _their_rows(config: str) -> pd.DataFrame:
    parts = [
        pd.read_parquet(MIRROR / config / f"{split}-00000-of-00001.parquet").assign(fold=fold)
        for split, fold in (("train", "train"), ("validation", "valid"), ("test", "test"))
    ]
    return pd.concat(parts, ignore_index=True)


def test_mirror_rows_come_back_exactly_with_our_task_names(tmp_path):
    table, provenance = read_authors(get_dataset("esol"), ["logS"], HubSource(mirror=str(MIRROR)), tmp_path)
    theirs = _their_rows("delaney")
    assert list(table.columns) == ["smiles", "logS", "authors_set"]
    assert table["smiles"].tolist() == theirs["smiles"].tolist()  # as given, trailing blanks included
    assert table["logS"].tolist() == theirs["logSolubility"].tolist()
    assert table["authors_set"].tolist() == theirs["fold"].tolist()
    assert provenance["hub_config"] == "delaney" and provenance["hub_revision"] == "mirror"
    assert provenance["rows"] == {"train": 30, "valid": 5, "test": 5}
    assert provenance["files"]["delaney/test-00000-of-00001.parquet"] == sha256sum(
        MIRROR / "delaney" / "test-00000-of-00001.parquet"
    )


def test_checksums_are_recorded_then_verified_and_a_changed_file_is_an_error(tmp_path):
    mirror = tmp_path / "mirror"
    shutil.copytree(MIRROR, mirror)
    downloads = tmp_path / "downloads"
    source = HubSource(mirror=str(mirror), revision="abc123")
    read_authors(get_dataset("bbbp"), ["p_np"], source, downloads)
    recorded = json.loads((downloads / "hub" / "checksums.json").read_text())
    train = "bbbp/train-00000-of-00001.parquet"
    key = f"zihaojing/MuMo-Finetuning@abc123/{train}"
    assert recorded[key] == sha256sum(mirror / train)
    assert "zihaojing/MuMo-Finetuning@abc123/README.md" in recorded
    read_authors(get_dataset("bbbp"), ["p_np"], source, downloads)  # unchanged: verified, no error

    frame = pd.read_parquet(mirror / train)
    frame.loc[0, "p_np"] = 1 - frame.loc[0, "p_np"]
    frame.to_parquet(mirror / train, index=False)
    with pytest.raises(DownloadError, match=rf"{train}: SHA-256 \w+ does not match {recorded[key]}"):
        read_authors(get_dataset("bbbp"), ["p_np"], source, downloads)


def test_an_unknown_configuration_lists_those_of_the_card(tmp_path):
    spec = dataclasses.replace(get_dataset("bbbp"), hub=HubConfig("BBBP", (("p_np", "p_np"),)))
    with pytest.raises(HubError, match=r"no configuration 'BBBP'; the dataset card lists: bbbp, delaney"):
        read_authors(spec, ["p_np"], HubSource(mirror=str(MIRROR)), tmp_path)


def test_a_missing_label_column_lists_the_columns_present(tmp_path):
    spec = dataclasses.replace(get_dataset("bbbp"), hub=HubConfig("bbbp", (("label", "p_np"),)))
    with pytest.raises(HubError, match=r"no column\(s\) \['label'\].*columns present: \['smiles', 'p_np'"):
        read_authors(spec, ["p_np"], HubSource(mirror=str(MIRROR)), tmp_path)


def test_a_dataset_without_hub_files_is_refused(tmp_path):
    with pytest.raises(HubError, match="'tdc_half_life_obach' has no configuration"):
        read_authors(get_dataset("tdc_half_life_obach"), ["Y"], HubSource(mirror=str(MIRROR)), tmp_path)


def test_card_front_matter():
    card = "---\nconfigs:\n- config_name: a\n  data_files:\n  - split: train\n    path: [a/x-*, a/y-*]\n---\n"
    assert parse_card(card, "card") == {"a": {"train": ["a/x-*", "a/y-*"]}}
    with pytest.raises(HubError, match="card: no YAML front matter"):
        parse_card("# just prose\n", "card")
    with pytest.raises(HubError, match="lists no configurations"):
        parse_card("---\ndataset_info: {}\n---\n", "card")


class _FakeHub:
    """hf_hub_download and HfApi serving the fixture folder; counts the revision look-ups."""

    def __init__(self, root: Path, sha: str):
        self.root, self.sha, self.info_calls, self.downloads, self.revisions_used = root, sha, 0, [], set()
        hub = self

        class Api:
            def dataset_info(self, repo, revision):
                hub.info_calls += 1
                assert revision == "main"
                return type("Info", (), {"sha": hub.sha})()

            def list_repo_files(self, repo, repo_type, revision):
                assert repo_type == "dataset"
                hub.revisions_used.add(revision)
                return [p.relative_to(hub.root).as_posix() for p in hub.root.rglob("*") if p.is_file()]

        self.Api = Api

    def download(self, repo_id, filename, repo_type, revision, local_dir):
        assert repo_type == "dataset"
        self.downloads.append(filename)
        self.revisions_used.add(revision)
        target = Path(local_dir) / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.root / filename, target)
        return str(target)


def test_online_revision_is_resolved_once_recorded_and_reused(tmp_path, monkeypatch):
    import huggingface_hub

    fake = _FakeHub(MIRROR, "f" * 40)
    monkeypatch.setattr(huggingface_hub, "HfApi", fake.Api)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake.download)
    downloads = tmp_path / "downloads"
    table, provenance = read_authors(get_dataset("bbbp"), ["p_np"], HubSource(), downloads)
    assert provenance["hub_revision"] == "f" * 40
    assert json.loads((downloads / hub_module.REVISIONS).read_text()) == {
        "zihaojing/MuMo-Finetuning": "f" * 40
    }
    assert sorted(fake.downloads) == sorted(
        ["README.md", *(f"bbbp/{s}-00000-of-00001.parquet" for s in ("train", "validation", "test"))]
    )
    assert (downloads / "hub" / "zihaojing+MuMo-Finetuning" / ("f" * 40) / "README.md").is_file()
    assert len(table) == 50

    fake.sha = "0" * 40  # the branch moved on: the recorded commit is still the one used
    again, _ = read_authors(get_dataset("bbbp"), ["p_np"], HubSource(), downloads)
    assert fake.info_calls == 1 and fake.revisions_used == {"f" * 40}
    pd.testing.assert_frame_equal(again, table)


def test_from_config_defaults_to_the_registry_repo():
    assert HubSource.from_config({}) == HubSource("zihaojing/MuMo-Finetuning", None, None)
    pinned = HubSource.from_config({"hub_repo": "zihaojing/MuMo-Finetune", "hub_revision": "abc"})
    assert (pinned.repo, pinned.revision) == ("zihaojing/MuMo-Finetune", "abc")
