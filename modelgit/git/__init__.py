"""The one way into a model's repository.

- :mod:`.paths`: where a model's bare repository lives (never outside the repositories root);
- :mod:`.repo`: opening it with pygit2, optionally through a push's quarantine;
- :mod:`.revisions`: the one revision resolution (branch, tag, commit id) and ref listing;
- :mod:`.trees`: tree listing, reading a path at a revision, blob sizes and LFS pointers;
- :mod:`.quarantine`: writing objects aside and moving them in, as ``receive-pack`` does;
- :mod:`.commands`: the few ``git`` processes modelgit starts, with a clean environment.

Nothing here imports pygit2 at package import time: the hook path pays only for what it uses.
"""
