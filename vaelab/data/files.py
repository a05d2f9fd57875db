"""Dataset files: the constants of MNIST and SVHN, downloads with checksums, and the parsers.

Every problem with a data file raises :class:`DataError`, whose message names the file and the fix.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import shutil
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np
import torch


class DataError(Exception):
    """A data file is missing, truncated, corrupt or not what it should be.

    The message names the file and says how to fix the problem.
    """


# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------

#: Dataset names accepted by :func:`load_dataset`.
DATASETS = ("mnist-embedded", "mnist", "svhn", "colored-mnist-embedded")

#: Image shape (C, H, W) of each dataset; ``x.view(-1, *IMAGE_SHAPES[name])`` gives the images.
IMAGE_SHAPES = {
    "mnist-embedded": (1, 28, 28),
    "mnist": (1, 28, 28),
    "svhn": (3, 32, 32),
    "colored-mnist-embedded": (3, 32, 32),
}

SPLITS = ("train", "test")

#: The (images, labels) file names of each MNIST split.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

#: Canonical md5 checksums of the original MNIST distribution files.
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}

#: Canonical md5 checksums of the SVHN cropped-digit files.
SVHN_MD5 = {
    "train_32x32.mat": "e26dedcc434d2e4c54c9b2d4a06d8373",
    "test_32x32.mat": "eb5a983be6a315427106f1b164d9cef3",
}

SVHN_MIRRORS = ("http://ufldl.stanford.edu/housenumbers/",)

IDX_MAGIC_IMAGES = 2051
IDX_MAGIC_LABELS = 2049

# IDX type codes (third byte of the magic number) -> big-endian numpy dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

EMBEDDED_TEST_PER_CLASS = 100  # the other 400 images of each class are the training split
_EMBEDDED_SEED = 236
_COLORED_SEEDS = {"train": 1, "test": 2}


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


# --------------------------------------------------------------------------------------------


def _md5(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _torchvision():
    """torchvision if it imports, else None (on a CPU-only torch it may raise RuntimeError)."""
    try:
        import torchvision
    except Exception:
        return None
    return torchvision


def _fetch_url(url: str, destination: Path, timeout: float = 60.0) -> None:
    """Download ``url`` to ``destination`` (through torchvision when it imports, else urllib).

    Downloads into a temporary folder next to ``destination`` and moves the file into place, so an
    interrupted download never leaves a partial file under the final name. Raises whatever the
    network raises.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=".download-", dir=destination.parent))
    tmp = tmp_dir / destination.name
    try:
        if _torchvision() is not None:
            from torchvision.datasets.utils import download_url

            download_url(url, root=str(tmp_dir), filename=tmp.name)
        else:
            request = urllib.request.Request(url, headers={"User-Agent": "vaelab"})
            with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out)
        os.replace(tmp, destination)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _download_verified(filename: str, data_dir: Path, mirrors, md5: str | None, command: str) -> Path:
    """Fetch ``filename`` from the first mirror that serves it with the right checksum."""
    destination = data_dir / filename
    failures = []
    for mirror in mirrors:
        url = mirror + filename
        try:
            _fetch_url(url, destination)
        except Exception as error:  # network errors come in many types
            failures.append(f"{url}: {type(error).__name__}: {error}")
            continue
        actual = _md5(destination)
        if md5 is None or actual == md5:
            return destination
        destination.unlink(missing_ok=True)
        failures.append(f"{url}: wrong md5 {actual} (expected {md5})")
    raise DataError(
        f"{destination}: could not download {filename}.\n  "
        + "\n  ".join(failures)
        + f"\nFix: check the internet connection and run `{command}` again, or download "
        f"{filename} on a machine that is online and copy it into {data_dir}."
    )


def _verify(path: Path, md5: str | None, command: str) -> None:
    """DataError unless ``path`` has the expected md5 (``None``: no check)."""
    if md5 is None:
        return
    actual = _md5(path)
    if actual != md5:
        raise DataError(
            f"{path}: the file is corrupt or incomplete (md5 {actual}, expected {md5}). "
            f"Fix: delete it and download it again with `{command}`."
        )


def _download_all(data_dir, checksums: dict, mirrors, command: str) -> list[Path]:
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for filename, md5 in checksums.items():
        path = data_dir / filename
        if not (path.is_file() and (md5 is None or _md5(path) == md5)):
            path = _download_verified(filename, data_dir, mirrors, md5, command)
        paths.append(path)
    return paths


def _mnist_command(data_dir) -> str:
    return f"python -m vaelab download mnist --data-dir {data_dir}"


def _svhn_command(data_dir) -> str:
    return f"python -m vaelab download svhn --data-dir {data_dir}"


def download_mnist(data_dir) -> list[Path]:
    """Download the four MNIST files into ``data_dir`` and verify their md5 checksums.

    Files already there with the right checksum are kept; missing or corrupt ones are fetched
    again (through torchvision when it imports, else urllib, trying each mirror in turn).

    Returns:
        The paths of the four files. Raises :class:`DataError` when a file cannot be obtained.
    """
    return _download_all(data_dir, MNIST_MD5, MNIST_MIRRORS, _mnist_command(data_dir))


def download_svhn(data_dir) -> list[Path]:
    """Download ``train_32x32.mat`` and ``test_32x32.mat`` into ``data_dir`` and verify them.

    As :func:`download_mnist` (about 250 MB in all).
    """
    return _download_all(data_dir, SVHN_MD5, SVHN_MIRRORS, _svhn_command(data_dir))


def _locate(data_dir: Path, filename: str, subdirs) -> Path | None:
    """The first existing ``data_dir/<subdir>/filename``."""
    for subdir in subdirs:
        candidate = data_dir / subdir / filename
        if candidate.is_file():
            return candidate
    return None


def _require_file(
    data_dir, filename: str, md5: str | None, download: bool, mirrors, command: str, what: str, subdirs=(".",)
) -> Path:
    """The verified path of ``filename`` in ``data_dir``, downloading it if asked to."""
    data_dir = Path(data_dir)
    path = _locate(data_dir, filename, subdirs)
    if path is None:
        missing = data_dir / filename
        if not download:
            raise DataError(
                f"{missing}: file not found. Fix: run `{command}` on a machine that is online "
                f"(or pass download=True), or copy {what} into {data_dir}."
            )
        data_dir.mkdir(parents=True, exist_ok=True)
        path = _download_verified(filename, data_dir, mirrors, md5, command)
    else:
        _verify(path, md5, command)
    return path


# --------------------------------------------------------------------------------------------
# IDX files and full MNIST
# --------------------------------------------------------------------------------------------


def _parse_idx(path: Path) -> tuple[int, np.ndarray]:
    """``(magic number, array)`` of an IDX file; see :func:`read_idx`."""
    fix = "Fix: delete it and download it again."
    try:
        raw = path.read_bytes()
    except FileNotFoundError as error:
        raise DataError(f"{path}: file not found. Fix: download it or check the path.") from error
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error}). Fix: check the path and its permissions.") from error
    if raw[:2] == b"\x1f\x8b":  # gzip magic
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as error:
            raise DataError(f"{path}: truncated or corrupt gzip file ({error}). {fix}") from error

    magic = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if magic is None or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number {magic}). {fix}")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header. {fix}")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    expected = math.prod(shape) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: the header announces shape {shape} ({expected} bytes of data) but the file "
            f"holds {len(raw) - header} bytes: it is truncated or corrupt. {fix}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return magic, data.astype(dtype.newbyteorder("="))


def read_idx(path) -> np.ndarray:
    """Parse an IDX file (the MNIST format), gzip-compressed or plain.

    The header is a big-endian magic number ``0x0000TTNN`` (``TT`` the element type, ``NN`` the
    number of dimensions; 2051 for MNIST images, 2049 for labels), then ``NN`` big-endian int32
    sizes, then the data.

    Returns:
        An array of the stored shape, e.g. ``(N, 28, 28)`` uint8 images or ``(N,)`` uint8 labels,
        in native byte order.

    Raises:
        DataError: the file is missing, truncated, not gzip / IDX, or its size disagrees with its header.
    """
    return _parse_idx(Path(path))[1]


def load_mnist(data_dir, split: str = "train", download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Full MNIST from the standard gzip IDX files in ``data_dir``.

    The files (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``; only the two of ``split`` are
    needed) are looked for in ``data_dir``, then in ``data_dir/mnist`` and in torchvision's
    ``data_dir/MNIST/raw``. Each is checked against its canonical md5 checksum.

    Args:
        data_dir: folder of the files.
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000 images).
        download: fetch missing files (to ``data_dir``) instead of failing.

    Returns:
        ``x: (N, 784)`` float32 in [0, 1] and ``y: (N,)`` int64.

    Raises:
        DataError: a file is missing (and not downloaded), truncated, corrupt or inconsistent;
        the message names the file and the fix.
    """
    _check_split(split)
    data_dir = Path(data_dir)
    command = _mnist_command(data_dir)
    what = "the four MNIST files (" + ", ".join(MNIST_MD5) + ")"
    paths = [
        _require_file(
            data_dir,
            name,
            MNIST_MD5.get(name),
            download,
            MNIST_MIRRORS,
            command,
            what,
            subdirs=(".", "mnist", "MNIST/raw"),
        )
        for name in MNIST_FILES[split]
    ]
    image_path, label_path = paths
    fix = f"Fix: delete it and download it again with `{command}`."

    arrays = []
    for path, expected in ((image_path, IDX_MAGIC_IMAGES), (label_path, IDX_MAGIC_LABELS)):
        magic, array = _parse_idx(path)
        if magic != expected:
            raise DataError(f"{path}: bad IDX magic number {magic}, expected {expected}. {fix}")
        arrays.append(array)
    images, labels = arrays
    if images.shape[1:] != (28, 28):
        raise DataError(f"{image_path}: expected 28 x 28 images, found shape {images.shape}. {fix}")
    if labels.shape[0] != images.shape[0]:
        raise DataError(
            f"{image_path} holds {images.shape[0]} images but {label_path} holds {labels.shape[0]} "
            f"labels: one of them is from another release or corrupt. {fix}"
        )
    if labels.size and labels.max() > 9:
        raise DataError(f"{label_path}: labels must be 0-9, found {int(labels.max())}. {fix}")

    x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


# --------------------------------------------------------------------------------------------
# SVHN
# --------------------------------------------------------------------------------------------


def load_svhn(data_dir, split: str = "train", download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """SVHN (cropped digits) from the standard ``train_32x32.mat`` / ``test_32x32.mat`` files.

    The file of ``split`` is looked for in ``data_dir`` and ``data_dir/svhn``, and checked against
    its canonical md5 checksum. In the file, ``X`` is ``(32, 32, 3, N)`` uint8 and ``y`` is
    ``(N, 1)`` with label 10 for the digit 0; the label returned for it is 0.

    Args:
        data_dir: folder of the files.
        split: ``"train"`` (73,257 images) or ``"test"`` (26,032 images).
        download: fetch a missing file (to ``data_dir``) instead of failing.

    Returns:
        ``x: (N, 3072)`` float32 in [0, 1], flattened channel-major (C, H, W), and ``y: (N,)`` int64 in 0-9.

    Raises:
        DataError: as :func:`load_mnist`.
    """
    _check_split(split)
    data_dir = Path(data_dir)
    command = _svhn_command(data_dir)
    name = SVHN_FILES[split]
    path = _require_file(
        data_dir,
        name,
        SVHN_MD5.get(name),
        download,
        SVHN_MIRRORS,
        command,
        "train_32x32.mat and test_32x32.mat",
        subdirs=(".", "svhn", "SVHN"),
    )
    fix = f"Fix: delete it and download it again with `{command}`."

    import scipy.io

    try:
        mat = scipy.io.loadmat(path, variable_names=("X", "y"))
    except Exception as error:  # scipy raises ValueError, TypeError, OSError... on bad files
        raise DataError(f"{path}: not a readable .mat file ({type(error).__name__}: {error}). {fix}") from error
    if "X" not in mat or "y" not in mat:
        raise DataError(
            f"{path}: expected variables 'X' and 'y', found {sorted(k for k in mat if not k.startswith('__'))}. {fix}"
        )
    images, labels = mat["X"], np.asarray(mat["y"]).reshape(-1)
    if images.ndim != 4 or images.shape[:3] != (32, 32, 3):
        raise DataError(f"{path}: expected X of shape (32, 32, 3, N), found {images.shape}. {fix}")
    if images.shape[3] != labels.shape[0]:
        raise DataError(f"{path}: {images.shape[3]} images but {labels.shape[0]} labels. {fix}")
    if labels.size and (labels.min() < 0 or labels.max() > 10):
        raise DataError(f"{path}: labels must be 0-10, found {labels.min()}-{labels.max()}. {fix}")

    images = np.ascontiguousarray(images.transpose(3, 2, 0, 1))  # (N, C, H, W)
    x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
    y = torch.from_numpy(labels.astype(np.int64) % 10)  # label 10 is the digit 0
    return x, y
