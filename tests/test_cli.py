"""The command line: python -m vaelab train / evaluate / download."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vaelab.__main__ import main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "tmp" / "x.pt"
    status = main(
        ["train", "vae", "--steps", "20", "--z-dim", "3", "--out", str(path), "--no-progress", "--device", "cpu"]
    )
    assert status == 0 and path.is_file()
    return path


def one_line_error(captured) -> str:
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_train_then_evaluate(checkpoint, capsys):
    assert main(["evaluate", str(checkpoint)]) == 0
    out = capsys.readouterr().out
    assert "NELBO" in out and "KL" in out and "Rec" in out and "1000 images" in out
    assert main(["evaluate", str(checkpoint), "--iw", "5", "--json", "--seed", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["iw"] == 5 and result["niwae"] > 0 and result["model"] == "vae"


def test_train_prints_metrics_and_path(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "gmvae", "--steps", "5", "--k", "3", "--z-dim", "2", "--no-progress", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "nelbo=" in out and "runs/gmvae.pt" in out.replace("\\", "/")
    assert (tmp_path / "runs" / "gmvae.pt").is_file()


def test_missing_checkpoint(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nowhere.pt")]) == 2
    assert "nowhere.pt" in one_line_error(capsys.readouterr())


def test_corrupt_checkpoint(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_text("garbage")
    assert main(["evaluate", str(bad)]) == 2
    assert "bad.pt" in one_line_error(capsys.readouterr())


def test_bad_data_dir(checkpoint, tmp_path, capsys):
    missing = tmp_path / "no-data"
    assert main(["evaluate", str(checkpoint), "--dataset", "mnist", "--data-dir", str(missing)]) == 2
    assert "no-data" in one_line_error(capsys.readouterr())
    out = tmp_path / "y.pt"
    args = ["train", "vae", "--steps", "2", "--dataset", "mnist", "--data-dir", str(missing), "--out", str(out)]
    assert main(args) == 2
    assert "no-data" in one_line_error(capsys.readouterr()) and not out.exists()


def test_option_for_the_wrong_model(capsys):
    assert main(["train", "gmvae", "--beta", "2", "--steps", "1", "--no-progress"]) == 2
    assert "beta" in one_line_error(capsys.readouterr())


def test_unknown_model_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "transformer"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_module_entry_point():
    result = subprocess.run([sys.executable, "-m", "vaelab", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    for command in ("train", "evaluate", "download"):
        assert command in result.stdout


# --device: a device this PyTorch cannot use is a one-line error before any work, never a traceback.


def test_cuda_on_a_cpu_only_torch(checkpoint, tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.version, "cuda", None)  # what a CPU-only build reports
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "gpu.pt"
    assert main(["train", "vae", "--steps", "2", "--device", "cuda", "--out", str(out), "--no-progress"]) == 2
    line = one_line_error(capsys.readouterr())
    assert "CPU-only" in line and "--device cpu" in line and not out.exists()
    assert main(["evaluate", str(checkpoint), "--device", "cuda:0"]) == 2
    assert "CPU-only" in one_line_error(capsys.readouterr())


def test_cuda_build_without_a_gpu(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.version, "cuda", "12.8")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["train", "vae", "--steps", "2", "--device", "cuda", "--out", str(tmp_path / "g.pt")]) == 2
    assert "sees no GPU" in one_line_error(capsys.readouterr())


def test_not_a_device_name(tmp_path, capsys):
    assert main(["train", "vae", "--steps", "2", "--device", "gpu", "--out", str(tmp_path / "g.pt")]) == 2
    assert "not a device name" in one_line_error(capsys.readouterr())


def test_cpu_device_still_trains(tmp_path):
    out = tmp_path / "cpu.pt"
    args = ["train", "vae", "--steps", "2", "--z-dim", "2", "--device", "cpu", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    assert out.is_file()


def test_cuda_error_from_the_real_command_line(tmp_path):
    """End to end on this machine's torch: only meaningful where it cannot use CUDA."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this PyTorch can use a GPU")
    command = [
        sys.executable,
        "-m",
        "vaelab",
        "train",
        "vae",
        "--steps",
        "2",
        "--device",
        "cuda",
        "--out",
        str(tmp_path / "g.pt"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.startswith("error: --device cuda")
