import gzip
import hashlib
import json
import shutil

import pytest
from helpers import MOLECULENET

from mumo.data.download import CHECKSUMS, DownloadError, fetch, mirrored, sha256sum
from mumo.data.registry import get_dataset
from mumo.data.sources import read_upstream


def serve(loopback, name="bbbp.csv"):
    shutil.copy(MOLECULENET / name, loopback.root / name)
    return f"{loopback.url}/{name}"


def test_download_records_hash_on_first_use_and_reuses_the_copy(loopback, tmp_path):
    url = serve(loopback)
    dest = tmp_path / "dl"
    path = fetch(url, "bbbp.csv", dest, progressbar=False)
    assert path.read_bytes() == (MOLECULENET / "bbbp.csv").read_bytes()
    recorded = json.loads((dest / CHECKSUMS).read_text())
    assert recorded == {"bbbp.csv": hashlib.sha256(path.read_bytes()).hexdigest()}
    fetch(url, "bbbp.csv", dest, progressbar=False)
    assert loopback.requests == ["bbbp.csv"]  # the verified copy was reused


def test_known_checksum_mismatch_leaves_no_file(loopback, tmp_path):
    url = serve(loopback)
    dest = tmp_path / "dl"
    with pytest.raises(DownloadError, match="SHA256"):
        fetch(url, "bbbp.csv", dest, sha256="0" * 64, progressbar=False)
    assert list(dest.iterdir()) == []


def test_upstream_change_against_recorded_hash_is_an_error(loopback, tmp_path):
    url = serve(loopback)
    dest = tmp_path / "dl"
    fetch(url, "bbbp.csv", dest, progressbar=False)
    (dest / "bbbp.csv").unlink()
    (loopback.root / "bbbp.csv").write_text("smiles,p_np\nCCO,1\n")
    with pytest.raises(DownloadError, match="bbbp.csv"):
        fetch(url, "bbbp.csv", dest, progressbar=False)
    assert not (dest / "bbbp.csv").exists()


def test_truncated_download_is_retried_then_fails_without_a_file(loopback, tmp_path):
    url = serve(loopback)
    loopback.truncate["bbbp.csv"] = 1000
    dest = tmp_path / "dl"
    with pytest.raises(DownloadError, match="giving up after 3 attempts"):
        fetch(url, "bbbp.csv", dest, retries=2, backoff_s=0.01, progressbar=False)
    assert loopback.requests == ["bbbp.csv"] * 3
    assert list(dest.iterdir()) == []


def test_truncated_download_recovers_on_retry(loopback, tmp_path):
    url = serve(loopback)
    loopback.truncate["bbbp.csv"] = 1000
    loopback.truncate_times["bbbp.csv"] = 1  # the connection drops once, then the server behaves
    path = fetch(url, "bbbp.csv", tmp_path, retries=2, backoff_s=0.01, progressbar=False)
    assert sha256sum(path) == sha256sum(MOLECULENET / "bbbp.csv")
    assert loopback.requests == ["bbbp.csv"] * 2


def test_missing_file_is_a_clear_error(loopback, tmp_path):
    with pytest.raises(DownloadError, match="404"):
        fetch(f"{loopback.url}/nope.csv", "nope.csv", tmp_path, retries=0, progressbar=False)


def test_mirror_replaces_the_host_and_path():
    assert (
        mirrored("https://host/a/b/BBBP.csv", "http://127.0.0.1:8000/m/")
        == "http://127.0.0.1:8000/m/BBBP.csv"
    )
    assert mirrored("https://host/a/BBBP.csv", None) == "https://host/a/BBBP.csv"


def test_read_upstream_through_a_mirror_with_gzip(loopback, tmp_path):
    spec = get_dataset("clintox")
    with gzip.open(loopback.root / "clintox.csv.gz", "wb") as handle:
        handle.write((MOLECULENET / "clintox.csv").read_bytes())
    frame = read_upstream(spec, tmp_path, mirror=loopback.url)
    assert list(frame.columns) == ["smiles", "FDA_APPROVED", "CT_TOX"]
    assert len(frame) == 153
