"""The processor dlbook runs on: its name, cores and the instruction sets that decide CPU settings.

This project's machines differ (an AMD EPYC with AVX-512 and AVX512_BF16 here, AVX2 only
elsewhere), so :mod:`dlbook.config` chooses CPU settings from what the processor has, read at run
time from ``/proc/cpuinfo`` (Linux). Elsewhere the flags are unknown and the portable choice
applies. Nothing here loads Keras or a framework: ``dlbook info`` and the benchmark print it
before any framework starts.

``RELEVANT_FLAGS`` are the flags that matter for training on a CPU: vector width (AVX2, AVX-512),
fused multiply-add, and native low-precision arithmetic (VNNI for int8, AVX512_BF16 and AMX for
bfloat16, AVX512_FP16). :attr:`CPU.native_bfloat16` says whether bfloat16 products run in
hardware; without it, frameworks emulate bfloat16 several times slower than float32.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from pathlib import Path
import platform

CPUINFO = "/proc/cpuinfo"
CGROUP = "/sys/fs/cgroup"
RELEVANT_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16",
                  "amx_tile", "amx_bf16", "amx_int8")
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclasses.dataclass(frozen=True)
class CPU:
    """A processor: its model name, the cores this process may use, and its feature flags."""

    name: str
    cores: int
    flags: frozenset[str]

    @property
    def relevant_flags(self) -> tuple[str, ...]:
        """The flags of :data:`RELEVANT_FLAGS` this CPU has, in that order."""
        return tuple(flag for flag in RELEVANT_FLAGS if flag in self.flags)

    @property
    def native_bfloat16(self) -> bool:
        """Whether the CPU multiplies bfloat16 in hardware (AVX512_BF16 or AMX-BF16)."""
        return any(flag in self.flags for flag in BFLOAT16_FLAGS)

    @property
    def flags_known(self) -> bool:
        """False where the flags could not be read (no ``/proc/cpuinfo``): settings stay portable."""
        return bool(self.flags)

    def summary(self) -> str:
        """One line, e.g. ``AMD EPYC, 2 cores; avx2 fma avx512f avx512_bf16; native bfloat16: yes``."""
        if not self.flags_known:
            return f"{self.name}, {self.cores} cores; instruction-set flags unknown; native bfloat16: no"
        flags = " ".join(self.relevant_flags) or "none of " + " ".join(RELEVANT_FLAGS)
        return f"{self.name}, {self.cores} cores; {flags}; native bfloat16: {'yes' if self.native_bfloat16 else 'no'}"


def cpu_quota(cgroup: str = CGROUP) -> float | None:
    """The CPUs a Linux cgroup quota allows (a container's ``--cpus``), e.g. ``1.5``; ``None`` without one.

    Reads cgroup v2's ``cpu.max`` (``"150000 100000"``; ``"max ..."`` is no quota), else v1's
    ``cpu/cpu.cfs_quota_us`` over ``cpu/cpu.cfs_period_us`` (a quota of -1 is none).
    """
    root = Path(cgroup)
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def usable_cores() -> int:
    """The cores this process may run on, at least 1: its CPU affinity where the OS tells it, capped
    by a cgroup quota (a container limited to 2 CPUs on a 64-core host sees 64 in its affinity)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = cpu_quota()
    if quota is not None:
        cores = min(cores, math.ceil(quota))
    return max(1, cores)


def parse_cpuinfo(text: str, cores: int | None = None) -> CPU:
    """A :class:`CPU` from the text of ``/proc/cpuinfo``: the first processor's model name and flags.

    ``cores`` defaults to :func:`usable_cores`. Text without a ``flags`` line gives empty flags
    (unknown); without a ``model name`` line, the name is the machine type (``x86_64``, ...).
    """
    name, flags = "", frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not name:
            name = value.strip()
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
    return CPU(name=name or platform.machine() or "unknown CPU", cores=cores or usable_cores(), flags=flags)


@functools.lru_cache(maxsize=1)
def detect() -> CPU:
    """This machine's CPU, read once from ``/proc/cpuinfo``; flags unknown where it cannot be read."""
    try:
        with open(CPUINFO, encoding="utf-8", errors="replace") as f:
            return parse_cpuinfo(f.read())
    except OSError:
        return CPU(name=platform.processor() or platform.machine() or "unknown CPU", cores=usable_cores(),
                   flags=frozenset())
