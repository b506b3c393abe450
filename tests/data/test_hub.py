"""The authors' hub split files: the mirror layout, checksums, revisions, and loud failures on wrong guesses.

The hub itself is not reachable here: the online path runs the real huggingface_hub client against a loopback
server that answers the few hub endpoints it calls, serving the fixture folder (tests/data/hub).
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from helpers import REPO, LoopbackHTTP

from mumo.data import hub as hub_module
from mumo.data.download import DownloadError, sha256sum
from mumo.data.hub import HubError, HubSource, parse_card, read_authors, split_files
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


class _LoopbackHub(LoopbackHTTP):
    """The few hub endpoints huggingface_hub calls, serving `root` as repo `zihaojing/MuMo-Finetuning` on
    127.0.0.1 with branch `main` at commit `sha`; records the requests."""

    REPO = "zihaojing/MuMo-Finetuning"

    def __init__(self, root: Path, sha: str):
        self.root, self.sha, self.requests = root, sha, []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def reply(self, send_body: bool):
                hub.requests.append(self.path)
                path = self.path.split("?")[0]
                api, resolve = f"/api/datasets/{hub.REPO}/", f"/datasets/{hub.REPO}/resolve/"
                headers = {"Content-Type": "application/json"}
                if path == api + "revision/main":
                    body = json.dumps({"id": hub.REPO, "sha": hub.sha}).encode()
                elif path.startswith(api + "tree/"):
                    files = [p for p in sorted(hub.root.rglob("*")) if p.is_file()]
                    listing = [
                        {
                            "type": "file",
                            "path": p.relative_to(hub.root).as_posix(),
                            "size": p.stat().st_size,
                            "oid": "0" * 40,
                        }
                        for p in files
                    ]
                    body = json.dumps(listing).encode()
                elif (
                    path.startswith(resolve) and (hub.root / path[len(resolve) :].partition("/")[2]).is_file()
                ):
                    body = (hub.root / path[len(resolve) :].partition("/")[2]).read_bytes()
                    commit = path[len(resolve) :].partition("/")[0]
                    headers = {"X-Repo-Commit": commit, "ETag": f'"{hashlib.sha256(body).hexdigest()}"'}
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                for key, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                if send_body:
                    self.wfile.write(body)

            def do_GET(self):  # noqa: N802 - http.server's naming
                self.reply(True)

            def do_HEAD(self):  # noqa: N802
                self.reply(False)

            def log_message(self, *args):
                pass

        super().__init__(Handler)

    def read_bbbp(self, downloads: Path, home: Path) -> dict:
        """read_authors in a fresh process whose HF_ENDPOINT is this server (huggingface_hub reads it on import)."""
        code = (
            "import json, sys\n"
            "from mumo.data.hub import HubSource, read_authors\n"
            "from mumo.data.registry import get_dataset\n"
            "table, provenance = read_authors(get_dataset('bbbp'), ['p_np'], HubSource(), sys.argv[1])\n"
            "print(json.dumps(provenance | {'n': len(table)}))\n"
        )
        env = os.environ | {
            "HF_ENDPOINT": self.url,
            "HF_HOME": str(home),
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "PYTHONPATH": str(REPO),
        }
        done = subprocess.run(
            [sys.executable, "-c", code, str(downloads)], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.splitlines()[-1])


def test_hf_hub_download_path_resolves_the_revision_once_and_keeps_it(tmp_path):
    """The real huggingface_hub client against a loopback hub: the branch's commit is resolved and recorded
    on first use, only the card and the task's files are fetched, and a moved branch changes nothing."""
    downloads = tmp_path / "downloads"
    first_sha, later_sha = "f" * 40, "0" * 40
    with _LoopbackHub(MIRROR, first_sha) as hub:
        provenance = hub.read_bbbp(downloads, tmp_path / "hf")
        assert provenance["hub_revision"] == first_sha and provenance["n"] == 50
        assert json.loads((downloads / hub_module.REVISIONS).read_text()) == {hub.REPO: first_sha}
        fetched = {r.rsplit(first_sha + "/", 1)[-1] for r in hub.requests if "/resolve/" in r}
        assert fetched == {
            "README.md",
            *(f"bbbp/{s}-00000-of-00001.parquet" for s in ("train", "validation", "test")),
        }
        local = downloads / "hub" / "zihaojing+MuMo-Finetuning" / first_sha
        assert (
            sha256sum(local / "bbbp/test-00000-of-00001.parquet")
            == provenance["files"]["bbbp/test-00000-of-00001.parquet"]
        )

        hub.sha, hub.requests = later_sha, []  # the branch moved on: the recorded commit is still used
        again = hub.read_bbbp(downloads, tmp_path / "hf")
        assert again == provenance
        assert not any("revision/main" in r or later_sha in r for r in hub.requests)


def test_from_config_defaults_to_the_registry_repo():
    assert HubSource.from_config({}) == HubSource("zihaojing/MuMo-Finetuning", None, None)
    pinned = HubSource.from_config({"hub_repo": "zihaojing/MuMo-Finetune", "hub_revision": "abc"})
    assert (pinned.repo, pinned.revision) == ("zihaojing/MuMo-Finetune", "abc")


def test_a_stray_file_matching_the_cards_pattern_is_not_read(tmp_path, caplog):
    """`bbbp/train-*` also matches a backup copy; it used to double the train fold ("duplicates kept 38")."""
    mirror = tmp_path / "mirror"
    shutil.copytree(MIRROR, mirror)
    train = mirror / "bbbp" / "train-00000-of-00001.parquet"
    shutil.copy(train, train.with_name(train.name + ".bak"))
    shutil.copy(train, mirror / "bbbp" / "train-copy.parquet")
    table, provenance = read_authors(get_dataset("bbbp"), ["p_np"], HubSource(mirror=str(mirror)), tmp_path)
    assert provenance["rows"] == {"train": 37, "valid": 6, "test": 7} and len(table) == 50
    assert sorted(provenance["files"]) == [
        f"bbbp/{s}-00000-of-00001.parquet" for s in ("test", "train", "validation")
    ]
    assert "train-00000-of-00001.parquet.bak" in caplog.text and "not data shards: not read" in caplog.text


def test_split_files_are_one_complete_set_of_shards():
    shards = [f"c/train-0000{i}-of-00003.parquet" for i in range(3)]
    assert split_files([*shards, "c/test-00000-of-00001.parquet"], ["c/train-*"], "w") == shards
    assert split_files(["c/train.parquet", "c/train-x"], ["c/train.parquet"], "w") == ["c/train.parquet"]
    with pytest.raises(HubError, match=r"w: shard\(s\) \['c/train-00001-of-00003.parquet'\] missing"):
        split_files([shards[0], shards[2]], ["c/train-*"], "w")
    with pytest.raises(HubError, match=r"hold 2 sets of shards; \['c/train-\*'\] must select one"):
        split_files([*shards, "c/train-00000-of-00001.parquet"], ["c/train-*"], "w")
    with pytest.raises(HubError, match=r"w: no data file matches \['c/valid-\*'\]"):
        split_files(shards, ["c/valid-*"], "w")
    with pytest.raises(HubError, match=r"w: the card lists \['c/valid.parquet'\], not in the repository"):
        split_files(shards, ["c/valid.parquet"], "w")


@pytest.mark.parametrize("damage", ["garbled", "no rows", "no label column"])
def test_a_bad_mirror_file_is_refused_before_its_hash_is_recorded(tmp_path, damage):
    """Its hash used to be recorded first: once the mirror was fixed, the good file was refused for good."""
    mirror, downloads = tmp_path / "mirror", tmp_path / "downloads"
    shutil.copytree(MIRROR, mirror)
    train = mirror / "bbbp" / "train-00000-of-00001.parquet"
    good = train.read_bytes()
    if damage == "garbled":
        train.write_bytes(good[: len(good) // 2] + b"\0" * 64)
    else:
        frame = pd.read_parquet(train)
        (frame.head(0) if damage == "no rows" else frame.drop(columns="p_np")).to_parquet(train, index=False)
    source = HubSource(mirror=str(mirror), revision="abc123")
    message = {"garbled": "not a readable parquet file", "no rows": "no rows", "no label column": "no column"}
    with pytest.raises(
        HubError, match=rf"train-00000-of-00001.parquet: {message[damage]}.*hash is not recorded"
    ):
        read_authors(get_dataset("bbbp"), ["p_np"], source, downloads)
    recorded = json.loads((downloads / "hub" / "checksums.json").read_text())
    assert not any("train-" in key for key in recorded)
    train.write_bytes(good)  # the mirror fixed: the good file is read and trusted
    table, provenance = read_authors(get_dataset("bbbp"), ["p_np"], source, downloads)
    assert provenance["rows"]["train"] == 37


def test_without_network_the_error_is_one_line_naming_the_mirror_setting(tmp_path):
    """It used to be a 75-line traceback naming neither the hub nor `download.hub_mirror`."""
    code = (
        "import sys\n"
        "from mumo.data.hub import HubSource, read_authors\n"
        "from mumo.data.registry import get_dataset\n"
        "for revision in (None, 'f' * 40):  # resolving the branch, then downloading a pinned revision\n"
        "    try:\n"
        "        read_authors(get_dataset('bbbp'), ['p_np'], HubSource(revision=revision), sys.argv[1])\n"
        "    except Exception as error:\n"
        "        print(f'{type(error).__name__}: {error}')\n"
    )
    env = os.environ | {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "dl")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout + done.stderr
    for line, what in zip(lines, ("resolve the revision", "download README.md"), strict=True):
        assert line.startswith(
            f"HubError: cannot {what} of zihaojing/MuMo-Finetuning from the Hugging Face hub"
        )
        assert "without network, set download.hub_mirror to a copy of it" in line and len(line) < 330
