"""What the course's hidden tests use: the package's own answers made unavailable while a student's code runs.

The notebooks' exercises are built on this package, and some of its functions compute exactly what an exercise
asks for (``labels.label_margin`` answers the label-margin exercise). A hidden test runs the student's function
inside ``unavailable(env, *functions)``: calling one of those functions there raises ``PackageAnswerUsed``, so
an answer that only calls the package fails instead of passing.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator


class PackageAnswerUsed(AssertionError):
    """A student's function called the package function that answers the exercise."""


def _raiser(fn: Callable) -> Callable:
    name = f"{fn.__module__}.{fn.__qualname__}"

    def refuse(*args, **kwargs):
        raise PackageAnswerUsed(f"your function called {name}, which computes the answer for you: this exercise "
                                "asks you to write it yourself (numpy and jax are fine)")
    return refuse


@contextlib.contextmanager
def unavailable(env: dict | None, *functions: Callable) -> Iterator[None]:
    """Within the block each of `functions` raises PackageAnswerUsed when called, however it is reached: as an
    attribute of any loaded frepo_lite module (``frepo_lite.labels.label_margin``, ``frepo_lite.label_margin``,
    a name another module imported), as a method of its class (``Preprocessing.inverse``) and under any name in
    `env`, the notebook's global namespace (``from
    frepo_lite.labels import label_margin`` there). Everything is restored on leaving the block."""
    targets = {id(fn): _raiser(fn) for fn in functions}
    patched: list[tuple[object, str, object]] = []  # (namespace, name, original)
    modules = [m for name, m in list(sys.modules.items())
               if m is not None and (name == "frepo_lite" or name.startswith("frepo_lite."))]
    try:
        for fn in functions:  # a method: patched on its class (data.Preprocessing.inverse)
            owner_name, _, name = fn.__qualname__.rpartition(".")
            if owner_name and "<" not in owner_name:
                owner = getattr(sys.modules[fn.__module__], owner_name)
                patched.append((owner, name, vars(owner)[name]))
                setattr(owner, name, targets[id(fn)])
        for module in modules:
            for name, value in list(vars(module).items()):
                if id(value) in targets:
                    patched.append((module, name, value))
                    setattr(module, name, targets[id(value)])
        for name, value in list((env or {}).items()):
            if id(value) in targets:
                patched.append((env, name, value))
                env[name] = targets[id(value)]
        yield
    finally:
        for namespace, name, original in reversed(patched):
            if isinstance(namespace, dict):
                namespace[name] = original
            else:
                setattr(namespace, name, original)


def without(fn: Callable, env: dict | None, *functions: Callable) -> Callable:
    """fn wrapped so that each call runs inside unavailable(env, *functions): a check can compute its reference
    answers with the package while the student's function, and only it, runs without them."""
    def guarded(*args, **kwargs):
        with unavailable(env, *functions):
            return fn(*args, **kwargs)
    return guarded
