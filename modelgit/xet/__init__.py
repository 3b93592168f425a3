"""The Xet storage formats, as pure functions over bytes (no store, no files, no network).

``hashes`` (keyed BLAKE3 chunk hashes and the aggregated merkle hashes of xorbs and files),
``xorb`` (parse and verify a xorb, read its chunks), ``shard`` (parse the file
reconstructions and xorb listings a client uploads) and ``tokens`` (the signed CAS tokens).
The byte layouts follow the Xet protocol specification and xet-core, which ``hf_xet`` uses.
"""
