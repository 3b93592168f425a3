"""The operations a person or a push performs, between the front ends and the core.

Front ends (``cli``, ``http``, ``hooks``) parse input, call a service and render its answer or
its :mod:`modelgit.errors` refusal; they never import each other. Kept empty so that importing
one service (``access`` on the credential check's path) loads nothing else.
"""
