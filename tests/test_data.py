"""Tests of vaelab.data. No network: the full-dataset parsers run on small files generated here."""

from __future__ import annotations

import gzip
import hashlib
import math

import numpy as np
import pytest
import torch

from vaelab import data as d
from vaelab.data import DataError

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """The IDX encoding of ``array`` (big-endian), optionally with a forced magic number."""
    codes = {
        np.dtype(np.uint8): 0x08,
        np.dtype(np.int8): 0x09,
        np.dtype(np.int16): 0x0B,
        np.dtype(np.int32): 0x0C,
        np.dtype(np.float32): 0x0D,
        np.dtype(np.float64): 0x0E,
    }
    if magic is None:
        magic = (codes[array.dtype] << 8) | array.ndim
    header = magic.to_bytes(4, "big") + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array: np.ndarray, magic: int | None = None, compress: bool = True):
    raw = idx_bytes(array, magic)
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def accept_checksums(monkeypatch, table, *paths):
    """Make the canonical checksum table accept the generated files."""
    for path in paths:
        monkeypatch.setitem(table, path.name, md5(path))


def fake_mnist(n=20, seed=0):
    rng = np.random.RandomState(seed)
    images = rng.randint(0, 256, size=(n, 28, 28)).astype(np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


@pytest.fixture
def mnist_dir(tmp_path, monkeypatch):
    """A data dir with valid, small train and test MNIST files (checksums accepted)."""
    for split, (image_name, label_name) in d.MNIST_FILES.items():
        images, labels = fake_mnist(n=20 if split == "train" else 10, seed=len(split))
        paths = write_idx(tmp_path / image_name, images), write_idx(tmp_path / label_name, labels)
        accept_checksums(monkeypatch, d.MNIST_MD5, *paths)
    return tmp_path


def assert_helpful(excinfo, filename, *fix_words):
    message = str(excinfo.value)
    assert filename in message, f"the message should name {filename}: {message}"
    for word in fix_words:
        assert word in message, f"the message should say {word!r}: {message}"


# --------------------------------------------------------------------------------------------
# Embedded MNIST
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("split, n", [("train", 4000), ("test", 1000)])
def test_embedded_sizes_types_range(split, n):
    x, y = d.load_embedded_mnist(split)
    assert x.shape == (n, 784) and x.dtype == torch.float32
    assert y.shape == (n,) and y.dtype == torch.int64
    assert x.min() >= 0 and x.max() <= 1
    assert x.max() == 1  # scaled by 255, not by the maximum of each image
    assert torch.bincount(y, minlength=10).tolist() == [n // 10] * 10


def test_embedded_classes_are_mixed():
    _, y = d.load_embedded_mnist("test")
    assert len(torch.unique(y[:100])) == 10  # the first 100 test images cover every class


def test_embedded_deterministic_and_copies():
    x1, y1 = d.load_embedded_mnist("train")
    x1[0] = -1  # modifying a result must not change the next one
    x2, y2 = d.load_embedded_mnist("train")
    x3, y3 = d.load_embedded_mnist("train")
    assert torch.equal(x2, x3) and torch.equal(y1, y2)
    assert (x2[0] >= 0).all()


def test_embedded_split_ignores_and_keeps_global_rng():
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    try:
        d.embedded._embedded_mnist.cache_clear()
        torch.manual_seed(123), np.random.seed(123)
        x1, _ = d.load_embedded_mnist("test")
        assert torch.equal(torch.get_rng_state(), torch.manual_seed(123).get_state())
        assert np.random.randint(1 << 30) == np.random.RandomState(123).randint(1 << 30)
        d.embedded._embedded_mnist.cache_clear()
        torch.manual_seed(7), np.random.seed(7)
        x2, _ = d.load_embedded_mnist("test")
        assert torch.equal(x1, x2)
    finally:
        torch.set_rng_state(torch_state), np.random.set_state(numpy_state)


def test_embedded_train_test_disjoint():
    x_train, _ = d.load_embedded_mnist("train")
    x_test, _ = d.load_embedded_mnist("test")
    train_rows = {row.tobytes() for row in x_train.numpy()}
    test_rows = {row.tobytes() for row in x_test.numpy()}
    assert len(train_rows) == 4000 and len(test_rows) == 1000
    assert not train_rows & test_rows


def test_bad_split():
    with pytest.raises(ValueError, match="train"):
        d.load_embedded_mnist("valid")


# --------------------------------------------------------------------------------------------
# IDX parsing and full MNIST
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
def test_read_idx_round_trip(tmp_path, compress, dtype):
    array = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4).astype(dtype)
    if dtype == np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / "a.idx", array, compress=compress)
    out = d.read_idx(path)
    assert out.shape == array.shape and out.dtype == array.dtype
    np.testing.assert_array_equal(out, array)


def test_read_idx_bad_content(tmp_path):
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(b"\x12\x34\x56\x78" + bytes(10)))
    with pytest.raises(DataError) as excinfo:
        d.read_idx(path)
    assert_helpful(excinfo, "bad.gz", "magic", "download it again")

    path = write_idx(tmp_path / "short.idx", np.zeros((4, 5), np.uint8), compress=False)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(DataError) as excinfo:
        d.read_idx(path)
    assert_helpful(excinfo, "short.idx", "truncated")

    with pytest.raises(DataError) as excinfo:
        d.read_idx(tmp_path / "absent.gz")
    assert_helpful(excinfo, "absent.gz", "not found")


def test_load_mnist_round_trip(mnist_dir):
    for split, n in (("train", 20), ("test", 10)):
        images, labels = fake_mnist(n=n, seed=len(split))
        x, y = d.load_mnist(mnist_dir, split)
        assert x.shape == (n, 784) and x.dtype == torch.float32
        assert y.shape == (n,) and y.dtype == torch.int64
        np.testing.assert_allclose(x.numpy(), images.reshape(n, 784) / 255.0, rtol=1e-6)
        np.testing.assert_array_equal(y.numpy(), labels)
    x, y = d.load_dataset("mnist", "test", data_dir=mnist_dir)
    assert x.shape == (10, 784)


def test_load_mnist_test_split_needs_only_test_files(mnist_dir):
    for name in d.MNIST_FILES["train"]:
        (mnist_dir / name).unlink()
    assert d.load_mnist(mnist_dir, "test")[0].shape == (10, 784)


def test_load_mnist_missing_file(tmp_path):
    with pytest.raises(DataError) as excinfo:
        d.load_mnist(tmp_path, "test")
    assert_helpful(excinfo, "t10k-images-idx3-ubyte.gz", "python -m vaelab download mnist", str(tmp_path), "copy")


def test_load_mnist_truncated_gzip(mnist_dir, monkeypatch):
    path = mnist_dir / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    accept_checksums(monkeypatch, d.MNIST_MD5, path)  # reach the parser, not only the checksum
    with pytest.raises(DataError) as excinfo:
        d.load_mnist(mnist_dir, "train")
    assert_helpful(excinfo, path.name, "truncated", "delete it")


def test_load_mnist_wrong_magic(mnist_dir, monkeypatch):
    images, _ = fake_mnist()
    path = write_idx(mnist_dir / "train-images-idx3-ubyte.gz", images, magic=0x0803 + 0x100)  # int8 type
    accept_checksums(monkeypatch, d.MNIST_MD5, path)
    with pytest.raises(DataError) as excinfo:
        d.load_mnist(mnist_dir, "train")
    assert_helpful(excinfo, path.name, "magic", "2051", "delete it")

    # a labels file where the images should be
    path = write_idx(mnist_dir / "train-images-idx3-ubyte.gz", np.zeros(20, np.uint8))
    accept_checksums(monkeypatch, d.MNIST_MD5, path)
    with pytest.raises(DataError) as excinfo:
        d.load_mnist(mnist_dir, "train")
    assert_helpful(excinfo, path.name, "2049", "2051")


def test_load_mnist_wrong_checksum(mnist_dir, monkeypatch):
    monkeypatch.setitem(d.MNIST_MD5, "t10k-labels-idx1-ubyte.gz", "0" * 32)
    with pytest.raises(DataError) as excinfo:
        d.load_mnist(mnist_dir, "test")
    assert_helpful(excinfo, "t10k-labels-idx1-ubyte.gz", "md5", "delete it", "vaelab download mnist")


def test_load_mnist_count_mismatch(mnist_dir, monkeypatch):
    path = write_idx(mnist_dir / "train-labels-idx1-ubyte.gz", np.zeros(19, np.uint8))
    accept_checksums(monkeypatch, d.MNIST_MD5, path)
    with pytest.raises(DataError) as excinfo:
        d.load_mnist(mnist_dir, "train")
    assert_helpful(excinfo, "train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz", "20", "19", "delete it")


def test_download_failure_gives_data_error(tmp_path, monkeypatch):
    calls = []

    def offline(url, destination, **kwargs):
        calls.append(url)
        raise OSError("network unreachable")

    monkeypatch.setattr(d.files, "_fetch_url", offline)
    with pytest.raises(DataError) as excinfo:
        d.load_mnist(tmp_path, "test", download=True)
    assert_helpful(excinfo, "t10k-images-idx3-ubyte.gz", "network unreachable", "copy it into")
    assert len(calls) == len(d.files.MNIST_MIRRORS)  # every mirror was tried
    assert not list(tmp_path.glob("*.gz"))

    with pytest.raises(DataError):
        d.download_svhn(tmp_path)


def test_download_with_fake_fetcher(tmp_path, monkeypatch):
    """download=True fetches missing files, verifies them, and rejects wrong content."""
    source = tmp_path / "source"
    source.mkdir()
    images, labels = fake_mnist(n=10)
    served = [
        write_idx(source / d.MNIST_FILES["test"][0], images),
        write_idx(source / d.MNIST_FILES["test"][1], labels),
    ]
    accept_checksums(monkeypatch, d.MNIST_MD5, *served)

    def serve(url, destination, **kwargs):
        destination.write_bytes((source / url.rsplit("/", 1)[1]).read_bytes())

    monkeypatch.setattr(d.files, "_fetch_url", serve)
    target = tmp_path / "data"
    x, y = d.load_mnist(target, "test", download=True)
    assert x.shape == (10, 784) and (target / "t10k-labels-idx1-ubyte.gz").is_file()

    # a mirror serving the wrong bytes: the file is rejected and removed
    monkeypatch.setitem(d.MNIST_MD5, "train-images-idx3-ubyte.gz", "0" * 32)
    write_idx(source / "train-images-idx3-ubyte.gz", fake_mnist()[0])
    with pytest.raises(DataError) as excinfo:
        d.load_mnist(target, "train", download=True)
    assert_helpful(excinfo, "train-images-idx3-ubyte.gz", "md5")
    assert not (target / "train-images-idx3-ubyte.gz").exists()


def test_fetch_url_writes_file_atomically(tmp_path):
    """The real fetcher, on a file:// URL (no network)."""
    source = tmp_path / "served.bin"
    source.write_bytes(b"payload" * 1000)
    destination = tmp_path / "out" / "file.bin"
    d.files._fetch_url(source.as_uri(), destination)
    assert destination.read_bytes() == source.read_bytes()
    assert [p.name for p in destination.parent.iterdir()] == ["file.bin"]  # no temporary leftovers
    with pytest.raises(Exception):
        d.files._fetch_url((tmp_path / "absent.bin").as_uri(), tmp_path / "out" / "absent.bin")
    assert [p.name for p in destination.parent.iterdir()] == ["file.bin"]


# --------------------------------------------------------------------------------------------
# SVHN
# --------------------------------------------------------------------------------------------


def test_load_svhn_round_trip(tmp_path, monkeypatch):
    scipy_io = pytest.importorskip("scipy.io")
    n = 12
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, size=(32, 32, 3, n)).astype(np.uint8)
    labels = (np.arange(n) % 10 + 1).reshape(n, 1).astype(np.uint8)  # 1..10, 10 is the digit 0
    path = tmp_path / "test_32x32.mat"
    scipy_io.savemat(path, {"X": images, "y": labels})
    accept_checksums(monkeypatch, d.SVHN_MD5, path)

    x, y = d.load_svhn(tmp_path, "test")
    assert x.shape == (n, 3 * 32 * 32) and x.dtype == torch.float32
    assert y.dtype == torch.int64
    np.testing.assert_array_equal(y.numpy(), labels.ravel() % 10)
    assert 0 in y.tolist() and 10 not in y.tolist()
    chw = x.view(n, 3, 32, 32).numpy()
    np.testing.assert_allclose(chw, images.transpose(3, 2, 0, 1) / 255.0, rtol=1e-6)  # channel-major
    assert torch.equal(d.load_dataset("svhn", "test", data_dir=tmp_path)[0], x)


def test_load_svhn_errors(tmp_path, monkeypatch):
    with pytest.raises(DataError) as excinfo:
        d.load_svhn(tmp_path, "train")
    assert_helpful(excinfo, "train_32x32.mat", "python -m vaelab download svhn")

    path = tmp_path / "train_32x32.mat"
    path.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(50))
    accept_checksums(monkeypatch, d.SVHN_MD5, path)
    with pytest.raises(DataError) as excinfo:
        d.load_svhn(tmp_path, "train")
    assert_helpful(excinfo, "train_32x32.mat", "delete it")

    monkeypatch.setitem(d.SVHN_MD5, "train_32x32.mat", "0" * 32)
    with pytest.raises(DataError) as excinfo:
        d.load_svhn(tmp_path, "train")
    assert_helpful(excinfo, "train_32x32.mat", "md5")


# --------------------------------------------------------------------------------------------
# Dispatcher and coloured MNIST
# --------------------------------------------------------------------------------------------


def test_load_dataset_dispatch():
    x, y = d.load_dataset()
    assert x.shape == (4000, 784)
    with pytest.raises(ValueError, match="mnist-embedded"):
        d.load_dataset("cifar10")
    with pytest.raises(ValueError, match="data_dir"):
        d.load_dataset("mnist", "train")
    assert set(d.IMAGE_SHAPES) == set(d.DATASETS)


def test_colorize_shape_range_and_colours():
    n = 200
    x = torch.zeros(n, 28, 28)
    x[:, 10:18, 10:18] = 1.0  # a solid square: pure foreground inside, pure background outside
    out = d.colorize(x.view(n, 784), torch.Generator().manual_seed(0))
    assert out.shape == (n, 3 * 32 * 32) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    images = out.view(n, 3, 32, 32)
    background, foreground = images[:, :, 0, 0], images[:, :, 16, 16]
    assert torch.equal(images[:, :, 0, :], background[:, :, None].expand(n, 3, 32))  # padded border
    assert ((foreground - background).norm(dim=1) >= d.embedded.MIN_COLOUR_DISTANCE - 1e-6).all()
    assert len(torch.unique(background, dim=0)) > n // 2  # the colours vary between images
    again = d.colorize(x.view(n, 784), torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_colored_embedded_mnist():
    x, y = d.load_colored_embedded_mnist("test")
    assert x.shape == (1000, 3072) and x.dtype == torch.float32 and y.shape == (1000,)
    assert x.min() >= 0 and x.max() <= 1
    assert torch.equal(y, d.load_embedded_mnist("test")[1])
    x2, _ = d.load_dataset("colored-mnist-embedded", "test")
    assert torch.equal(x, x2)


# --------------------------------------------------------------------------------------------
# Binarisation
# --------------------------------------------------------------------------------------------


def test_binarize_values_and_mean():
    x = torch.rand(200, 784, generator=torch.Generator().manual_seed(1))
    b = d.binarize(x, torch.Generator().manual_seed(2))
    assert b.shape == x.shape and b.dtype == x.dtype
    assert set(torch.unique(b).tolist()) <= {0.0, 1.0}
    standard_error = math.sqrt((x * (1 - x)).sum().item()) / x.numel()
    assert abs(b.mean().item() - x.mean().item()) < 5 * standard_error
    # pixels at 0 and 1 stay where they are
    assert torch.equal(d.binarize(torch.tensor([0.0, 1.0, 1.0, 0.0])), torch.tensor([0.0, 1.0, 1.0, 0.0]))


def test_fixed_binarization_repeatable_and_no_global_rng_change():
    x = torch.rand(100, 784, generator=torch.Generator().manual_seed(3))
    state = torch.get_rng_state()
    a = d.fixed_binarization(x, seed=0)
    b = d.fixed_binarization(x, seed=0)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, b)
    assert not torch.equal(a, d.fixed_binarization(x, seed=1))
    assert set(torch.unique(a).tolist()) <= {0.0, 1.0}
    standard_error = math.sqrt((x * (1 - x)).sum().item()) / x.numel()
    assert abs(a.mean().item() - x.mean().item()) < 5 * standard_error


# --------------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------------


def indexed_data(n):
    """x whose first column is the example index, and y the index: alignment is checkable."""
    x = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 3)
    return x, torch.arange(n)


def test_batches_cover_each_example_once():
    x, y = indexed_data(103)
    batches = d.Batches(x, y, batch_size=10, binarize=False, drop_last=False)
    assert len(batches) == 11
    seen = []
    for x_batch, y_batch in batches:
        assert torch.equal(x_batch[:, 0].long(), y_batch)  # x and y stay aligned
        seen.append(y_batch)
    seen = torch.cat(seen)
    assert sorted(seen.tolist()) == list(range(103))
    assert seen.tolist() != list(range(103))  # shuffled

    dropped = d.Batches(x, y, batch_size=10, binarize=False)
    assert len(dropped) == 10 and all(len(b) == 10 for b, _ in dropped)


def test_batches_deterministic_and_new_order_each_epoch():
    x, y = indexed_data(50)

    def epochs(seed, count=2):
        batches = d.Batches(x, y, batch_size=10, binarize=False, seed=seed)
        return [torch.cat([yb for _, yb in batches]) for _ in range(count)]

    first, second = epochs(0)
    again_first, again_second = epochs(0)
    assert torch.equal(first, again_first) and torch.equal(second, again_second)
    assert not torch.equal(first, second)
    assert not torch.equal(first, epochs(1)[0])


def test_batches_unshuffled_x_only_and_binarized():
    x = torch.rand(30, 784, generator=torch.Generator().manual_seed(4))
    plain = list(d.Batches(x, batch_size=10, shuffle=False, binarize=False))
    assert all(isinstance(b, torch.Tensor) for b in plain)
    assert torch.equal(torch.cat(plain), x)
    binary = list(d.Batches(x, batch_size=10, shuffle=False, seed=0))
    assert set(torch.unique(torch.cat(binary)).tolist()) <= {0.0, 1.0}
    assert torch.equal(torch.cat(binary), torch.cat(list(d.Batches(x, batch_size=10, shuffle=False, seed=0))))


def test_batches_forever_crosses_epochs():
    x, y = indexed_data(20)
    stream = d.Batches(x, y, batch_size=10, binarize=False).forever()
    labels = [next(stream)[1] for _ in range(5)]
    assert len(labels) == 5
    assert sorted(torch.cat(labels[:2]).tolist()) == list(range(20))


def test_batches_too_large_batch():
    with pytest.raises(ValueError, match="batch_size"):
        d.Batches(torch.zeros(5, 2), batch_size=10)


@pytest.mark.parametrize(
    "device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"))]
)
def test_batches_device(device):
    x, y = indexed_data(40)
    x_batch, y_batch = next(iter(d.Batches(x / 40, y, batch_size=8, device=device)))
    assert x_batch.device.type == device and y_batch.device.type == device


# --------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------


def test_one_hot():
    out = d.one_hot(torch.tensor([0, 3, 9]))
    assert out.shape == (3, 10) and out.dtype == torch.float32
    assert torch.equal(out.argmax(1), torch.tensor([0, 3, 9])) and torch.equal(out.sum(1), torch.ones(3))
    assert d.one_hot(torch.tensor([1]), y_dim=4).tolist() == [[0.0, 1.0, 0.0, 0.0]]


def test_labelled_subset():
    _, y = d.load_embedded_mnist("train")
    index = d.labelled_subset(y, per_class=10, seed=0)
    assert index.dtype == torch.int64 and len(index) == 100
    assert len(torch.unique(index)) == 100
    assert torch.bincount(y[index], minlength=10).tolist() == [10] * 10
    assert torch.equal(index, d.labelled_subset(y, per_class=10, seed=0))
    assert not torch.equal(index, d.labelled_subset(y, per_class=10, seed=1))
    with pytest.raises(ValueError, match="class"):
        d.labelled_subset(y, per_class=401)
    with pytest.raises(ValueError, match="class 3"):
        d.labelled_subset(torch.tensor([0, 1, 2, 0, 1, 2]), per_class=1, y_dim=4)


# ---------------------------------------------------------------------------------- augmentation


def _digit_batch(n=6):
    from vaelab.data import load_dataset

    x, _ = load_dataset("mnist-embedded", split="test")
    return x[:n]


def test_random_shift_is_a_whole_pixel_translation_of_each_image():
    from vaelab.data import random_shift

    x = _digit_batch()
    moved = random_shift(x, max_shift=2, generator=torch.Generator().manual_seed(0))
    assert moved.shape == x.shape
    seen = set()
    for original, result in zip(x.view(-1, 28, 28), moved.view(-1, 28, 28)):
        padded = torch.nn.functional.pad(original, (2, 2, 2, 2))
        matches = [
            (dy, dx) for dy in range(5) for dx in range(5) if torch.equal(padded[dy : dy + 28, dx : dx + 28], result)
        ]
        assert matches, "every output is some translation of its input, by brute force"
        seen.add(matches[0])
    assert len(seen) > 1  # per image, not one shift for the batch
    assert torch.equal(random_shift(x, 0), x)
    with pytest.raises(ValueError, match="whole number"):
        random_shift(x, 1.5)
    with pytest.raises(ValueError, match=r"\(B, 784\)"):
        random_shift(x.view(-1, 28, 28))


def test_random_affine_moves_digits_a_little_and_stays_an_image():
    from vaelab.data import random_affine

    x = _digit_batch(50)
    same = random_affine(x, rotation=0, scale=0, shear=0, shift=0)
    assert torch.allclose(same, x, atol=1e-5)  # all ranges 0: the identity (up to rounding)
    generator = torch.Generator().manual_seed(0)
    moved = random_affine(x, generator=generator)
    assert moved.shape == x.shape and moved.min() >= 0 and moved.max() <= 1
    assert not torch.allclose(moved, x)
    again = random_affine(x, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again, moved)  # repeatable for a seed
    # A pure translation moves the centre of mass by at most `shift` pixels along each axis.
    grid = torch.arange(28, dtype=torch.float32)

    def centre(images):
        images = images.view(-1, 28, 28)
        mass = images.sum((1, 2))
        return torch.stack([(images.sum(2) * grid).sum(1) / mass, (images.sum(1) * grid).sum(1) / mass], 1)

    shifted = random_affine(x, generator=generator, rotation=0, scale=0, shear=0, shift=2.0)
    offsets = (centre(shifted) - centre(x)).abs()
    assert offsets.max() <= 2.0 + 0.3 and offsets.max() > 0.5
    with pytest.raises(ValueError, match="rotation must be >= 0"):
        random_affine(x, rotation=-1)


def test_batches_augment_before_binarising():
    from vaelab.data import Batches

    x = torch.full((20, 4), 0.5)
    calls = []

    def to_ones(batch, generator):
        calls.append(isinstance(generator, torch.Generator))
        return torch.ones_like(batch)

    for batch in Batches(x, batch_size=5, transform=to_ones):
        assert torch.equal(batch, torch.ones(5, 4))  # bernoulli(1) = 1: transformed first
    assert calls == [True] * 4
    with pytest.raises(TypeError, match="transform must be a function"):
        Batches(x, batch_size=5, transform="affine")
