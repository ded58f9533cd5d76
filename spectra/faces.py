"""The paper-scale face generator: the DCGAN of the optional PyPI package ``gan-face-generate==1.1.1``,
read without torch and pooled 2x2 to ``3 x 32 x 32 = 3072`` outputs (the paper's CIFAR-10 dimension).

Install it with ``make faces`` (``pip install --no-deps gan-face-generate==1.1.1``; its declared
dependencies would pull in torch and torchvision, which are not needed here).

**Licence note.** The package's code is MIT-licensed, but its weights were trained on DigiFace-1M, a
dataset whose licence is non-commercial: do not use this generator commercially.

The weights file is a torch checkpoint (a zip archive holding a pickle and raw tensor storages). It is
read by :func:`load_torch_state_dict`, a restricted unpickler that admits only an ``OrderedDict`` of plain
tensors: any other global, a tensor with hooks, or a storage of an unknown type is refused, so a
malicious file cannot run code.
"""

from __future__ import annotations

import importlib.util
import io
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

from spectra.dcgan import DCGAN

__all__ = ["load_torch_state_dict", "face_generator", "face_weights_path"]

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
}


class _StorageType:
    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    if hooks:
        raise pickle.UnpicklingError("tensor carries backward hooks; only plain tensors are admitted")
    if not isinstance(storage, np.ndarray):
        raise pickle.UnpicklingError("tensor storage is not a raw storage record")
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride) or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise pickle.UnpicklingError(f"invalid tensor size {size} / stride {stride}")
    last = int(offset) + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) if all(size) else 0
    if int(offset) < 0 or last >= max(storage.size, 1) and all(size):
        raise pickle.UnpicklingError("tensor view exceeds its storage")
    view = np.lib.stride_tricks.as_strided(storage[int(offset):], shape=size,
                                           strides=tuple(s * storage.itemsize for s in stride))
    return np.array(view)


class _RestrictedUnpickler(pickle.Unpickler):
    """Admits only OrderedDict, torch's tensor rebuild and storage type markers."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str):
        super().__init__(file)
        self._archive = archive
        self._prefix = prefix

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        raise pickle.UnpicklingError(f"refusing {module}.{name}: the payload is not a plain tensor dictionary")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"refusing persistent id {pid!r}: not a tensor storage")
        _, stype, key, _location, numel = pid
        if not (isinstance(key, str) and key.isdigit()):
            raise pickle.UnpicklingError(f"invalid storage key {key!r}")
        raw = self._archive.read(f"{self._prefix}/data/{key}")
        arr = np.frombuffer(raw, dtype=stype.dtype.newbyteorder("<"))
        if arr.size != int(numel):
            raise pickle.UnpicklingError(f"storage {key} holds {arr.size} elements, expected {numel}")
        return arr


def load_torch_state_dict(path: str | Path) -> dict:
    """Read the tensors of a torch zip checkpoint as numpy arrays, without torch and without running code.

    Returns the unpickled object (dictionaries of numpy arrays). Raises ``ValueError`` if the payload is
    anything other than (nested) dictionaries of plain tensors.
    """
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a torch zip checkpoint: {exc}") from exc
    with archive:
        pkls = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if len(pkls) != 1:
            raise ValueError(f"{path}: expected one data.pkl in the archive, found {len(pkls)}")
        prefix = pkls[0][: -len("/data.pkl")]
        byteorder = f"{prefix}/byteorder"
        if byteorder in archive.namelist() and archive.read(byteorder).strip() != b"little":
            raise ValueError(f"{path}: big-endian checkpoints are not supported")
        try:
            obj = _RestrictedUnpickler(io.BytesIO(archive.read(pkls[0])), archive, prefix).load()
        except (pickle.UnpicklingError, EOFError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path}: refused or unreadable payload: {exc}") from exc
    return obj


def face_weights_path() -> Path:
    """Location of ``weights.tar`` of the installed ``gan-face-generate`` package (not imported)."""
    spec = importlib.util.find_spec("gan_face_generate")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the face generator needs the optional package gan-face-generate: run `make faces` "
                          "(pip install --no-deps gan-face-generate==1.1.1)")
    path = Path(next(iter(spec.submodule_search_locations))) / "weights.tar"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from the gan-face-generate installation")
    return path


def _dcgan_arrays(state: dict, where: str) -> dict:
    """The tutorial DCGAN's state dict (``main.{0,3,6,9,12}`` convs, ``main.{1,4,7,10}`` batch norms) in the
    :class:`~spectra.dcgan.DCGAN` weight-file layout."""
    arrays: dict = {"n_layers": np.int64(5)}
    for i in range(5):
        conv, bn = f"main.{3 * i}", f"main.{3 * i + 1}"
        if f"{conv}.weight" not in state:
            raise ValueError(f"{where}: missing tensor {conv}.weight")
        arrays[f"layer{i}_weight"] = state[f"{conv}.weight"]
        arrays[f"layer{i}_stride"] = np.int64(1 if i == 0 else 2)
        arrays[f"layer{i}_padding"] = np.int64(0 if i == 0 else 1)
        if i < 4:
            for src, dst in (("weight", "weight"), ("bias", "bias"), ("running_mean", "mean"),
                             ("running_var", "var")):
                if f"{bn}.{src}" not in state:
                    raise ValueError(f"{where}: missing tensor {bn}.{src}")
                arrays[f"layer{i}_bn_{dst}"] = state[f"{bn}.{src}"]
            arrays[f"layer{i}_bn_eps"] = np.float64(1e-5)
    return arrays


def face_generator(pool: bool = True, path: str | Path | None = None) -> DCGAN:
    """The face DCGAN (``D = 100``; ``3 x 64 x 64``, pooled to ``3 x 32 x 32`` by default).

    Needs the optional package (``make faces``); see the module docstring for the licence note.
    """
    path = Path(path) if path is not None else face_weights_path()
    obj = load_torch_state_dict(path)
    state = obj.get("netG_state_dict") if isinstance(obj, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: no netG_state_dict in the checkpoint")
    return DCGAN.from_arrays(_dcgan_arrays(state, str(path)), pool=pool, name="face-dcgan", where=str(path))
