"""Running on several devices with JAX's own sharding: a one-axis mesh ("data") over the visible devices.

FRePo's step splits the real target batch across the devices (each computes the features and the KRR
predictions of its rows; the loss and the gradients are summed across devices by XLA), while the distilled
set, its optimiser state, the model pool and the training set are replicated: every device holds a copy.
The evaluation trains its several networks at once, the networks split across the devices.

One device (a laptop, a Colab GPU) is the plain path: no mesh, nothing replicated. Several GPUs of one
machine are used as they are; for several machines, call ``jax.distributed.initialize()`` on each first
(``jax.devices()`` then lists the devices of all of them; on CPUs the processes talk through gloo, JAX's
default CPU collectives). tests/test_multiprocess.py checks this with two processes on one host: the same
results as one process with as many devices. Every process writes the checkpoints and resume files it is
given, so on a shared filesystem give each process its own path (e.g. with ``jax.process_index()``).
"""
from __future__ import annotations

from typing import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"


def data_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh | None:
    """A mesh with one axis, DATA_AXIS, over `devices` (default: all visible devices); None for one device."""
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("no devices given: pass a non-empty list (e.g. jax.devices()) or None for all")
    return Mesh(np.array(devices), (DATA_AXIS,)) if len(devices) > 1 else None


def placement(devices: Sequence[jax.Device] | None = None):
    """(mesh, where) for `devices` (default: all visible): mesh as data_mesh; where to jax.device_put what
    every device holds: the replicated sharding, or with one device that device."""
    mesh = data_mesh(devices)
    return mesh, (replicated(mesh) if mesh is not None else list(devices or jax.devices())[0])


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array."""
    return NamedSharding(mesh, PartitionSpec())


def split_rows(mesh: Mesh) -> NamedSharding:
    """The leading axis is split into equal parts, one per device."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def per_device(fn, mesh: Mesh, split: Sequence[bool]):
    """fn compiled to run on each device by itself: the arguments whose `split` entry is True are split along
    their leading axis (every leaf of a pytree), the others replicated; the outputs are split along their
    leading axis. Nothing passes between the devices, so fn must treat its rows independently (a vmap).

    jax.jit alone, given split inputs, lets XLA choose how to partition the program, and for a vmap over
    networks it chose all-gathers of activations and kernels at every step."""
    specs = tuple(PartitionSpec(DATA_AXIS) if s else PartitionSpec() for s in split)
    return jax.jit(jax.shard_map(fn, mesh=mesh, in_specs=specs, out_specs=PartitionSpec(DATA_AXIS)))


def check_divisible(n: int, mesh: Mesh | None, what: str) -> None:
    """A ValueError unless n rows split evenly across the mesh's devices."""
    if mesh is not None and n % mesh.size:
        raise ValueError(f"{what}={n} does not split evenly across {mesh.size} devices: choose a multiple of "
                         f"{mesh.size}, or pass devices=... with a number of devices that divides it")
