"""The globals a pickle may import and still pass a push: the allowlist, and why each is safe.

Loading a pickle imports every global it names and calls whatever the stream tells it to call
(REDUCE, NEWOBJ, OBJ, INST, BUILD's ``__setstate__``); everything else it builds is plain data.
So a pickle whose every global is on this list calls nothing but these data-only constructors,
and loading it runs no code of the uploader's choice. It is an allowlist because a denylist
passes whatever it does not know (``multiprocessing.util.spawnv_passfds``).

Globals are matched as the exact pair (module, name) that ``Unpickler.find_class`` receives,
after the Python 2 renames it applies below protocol 3 (``__builtin__`` -> ``builtins``). A
dotted name ("OrderedDict.fromkeys", which protocol 4 resolves attribute by attribute) is a
different pair and is refused. Why each group is data-only is written beside it.
"""

from __future__ import annotations

# Build a tensor or parameter from a storage that the loader supplies (persistent id), an
# offset, sizes and strides, and set requires_grad, backward hooks and attributes from the
# stream's own data: what torch.save writes, and on torch.load(weights_only=True)'s list
# (torch/_weights_only_unpickler.py). Left out on purpose: _rebuild_from_type_v2 and
# _rebuild_wrapper_subclass, which construct a class named by the stream (tensor subclasses,
# not state dicts), and torch.storage._load_from_bytes, which calls torch.load on bytes from
# the stream with no restriction at all.
_TORCH_REBUILDERS = (
    "_rebuild_tensor",
    "_rebuild_tensor_v2",
    "_rebuild_tensor_v3",
    "_rebuild_parameter",
    "_rebuild_parameter_with_state",
    "_rebuild_qtensor",
    "_rebuild_sparse_tensor",
    "_rebuild_meta_tensor_no_storage",
    "_rebuild_device_tensor_from_numpy",
    "_rebuild_device_tensor_from_cpu_tensor",
)
# Storage classes, dtypes, layouts, quantization schemes, torch.Size and torch.device (these
# three tuples): type tags and value objects; the storage classes appear inside the persistent
# ids that say which tensor data file to read.
_TORCH_STORAGES = tuple(f"{kind}Storage" for kind in (
    "Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool",
    "ComplexFloat", "ComplexDouble", "QInt8", "QUInt8", "QInt32", "QUInt4x2", "QUInt2x4",
    "Untyped",
))
_TORCH_DTYPES = (
    "float32", "float64", "float16", "bfloat16", "complex32", "complex64", "complex128",
    "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "bool",
    "quint8", "qint8", "qint32", "quint4x2", "quint2x4",
    "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu",
    "float4_e2m1fn_x2", "bits8", "bits16", "bits1x8", "bits2x4", "bits4x2",
    *(f"int{n}" for n in range(1, 8)), *(f"uint{n}" for n in range(1, 8)),
    # aliases: the same dtype objects under their other names
    "float", "double", "half", "cfloat", "cdouble", "chalf", "short", "int", "long",
)
_TORCH_VALUES = (
    "Size", "device", "strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr",
    "sparse_bsc", "contiguous_format", "channels_last", "channels_last_3d",
    "preserve_format", "per_tensor_affine", "per_tensor_symmetric", "per_channel_affine",
    "per_channel_symmetric", "per_channel_affine_float_qparams",
)

# Not on the list, decided: copyreg._reconstructor (state dicts never need it; it builds an
# instance of a class named by the stream without calling that class's __init__) and joblib's
# joblib.numpy_pickle.NumpyArrayWrapper: joblib writes the array's raw bytes (or a second,
# nested pickle for object arrays) straight into the stream after the wrapper, so where the
# pickle resumes can only be known by rebuilding the wrapper, which a static scan does not do.
# Joblib files also carry scikit-learn classes, which are code anyway.
SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset({
    *(("torch._utils", name) for name in _TORCH_REBUILDERS),
    *(("torch", name) for name in _TORCH_STORAGES + _TORCH_DTYPES + _TORCH_VALUES),
    ("torch.storage", "UntypedStorage"),
    ("torch.serialization", "_get_layout"),
    # the dict a state_dict() is
    ("collections", "OrderedDict"),
    ("collections", "Counter"),
    # an array or scalar from a shape, a dtype description and raw bytes, under numpy 1's
    # numpy.core and numpy 2's numpy._core (an object array's elements are pickled inline, so
    # their globals are checked like any other)
    *((core, name) for core in ("numpy.core.multiarray", "numpy._core.multiarray")
      for name in ("_reconstruct", "scalar")),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    # what protocols 0-2 use for these types; never eval, exec, compile, getattr, __import__,
    # open or apply
    *(("builtins", name) for name in (
        "set", "frozenset", "bytes", "bytearray", "complex", "slice", "range")),
    # how protocol 2 writes bytes (encode(text, "latin1")): it only looks up a codec in the
    # standard encodings package and encodes the given data
    ("_codecs", "encode"),
})


def is_safe(module: str, name: str) -> bool:
    """True when importing `module.name` from a pickle is on the allowlist (exact pair)."""
    return (module, name) in SAFE_GLOBALS

