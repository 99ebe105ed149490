"""dlbook.machine: the CPU's name, cores and flags, read from /proc/cpuinfo text (fake text here)."""

from __future__ import annotations

import subprocess
import sys

from dlbook import machine

EPYC_AVX512_BF16 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16 avx512_vnni
bugs\t\t: sysret_ss_attrs

processor\t: 1
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16 avx512_vnni
"""

EPYC_AVX2 = """processor\t: 0
model name\t: AMD EPYC 7B12
flags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2
"""

XEON_AMX = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: sse2 avx avx2 fma avx512f avx512_vnni avx512_fp16 avx_vnni amx_bf16 amx_tile amx_int8
"""


def test_avx512_bf16_is_native_bfloat16():
    cpu = machine.parse_cpuinfo(EPYC_AVX512_BF16, cores=2)
    assert cpu.name == "AMD EPYC" and cpu.cores == 2
    assert cpu.native_bfloat16 and cpu.flags_known
    assert cpu.relevant_flags == ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16")
    assert cpu.summary() == "AMD EPYC, 2 cores; avx2 fma avx512f avx512_vnni avx512_bf16; native bfloat16: yes"


def test_avx2_only_has_no_native_bfloat16():
    cpu = machine.parse_cpuinfo(EPYC_AVX2, cores=2)
    assert not cpu.native_bfloat16
    assert cpu.relevant_flags == ("avx2", "fma")
    assert cpu.summary().endswith("; avx2 fma; native bfloat16: no")


def test_amx_counts_as_native_bfloat16():
    cpu = machine.parse_cpuinfo(XEON_AMX, cores=16)
    assert cpu.native_bfloat16
    assert "amx_bf16" in cpu.relevant_flags and "avx512_bf16" not in cpu.relevant_flags
    assert "avx512_fp16" in cpu.relevant_flags and "amx_tile" in cpu.relevant_flags


def test_flag_names_match_whole_words_only():
    """``avx512_bf16`` must not be found inside another flag's name, nor ``avx2`` in ``avx256``."""
    cpu = machine.parse_cpuinfo("model name: X\nflags: avx512_bf16x avx256 xfma\n", cores=1)
    assert cpu.relevant_flags == () and not cpu.native_bfloat16


def test_text_without_flags_means_unknown_flags():
    """Another architecture's cpuinfo (no flags line) leaves the flags unknown, bfloat16 off."""
    cpu = machine.parse_cpuinfo("processor\t: 0\nFeatures\t: fp asimd bf16\nCPU implementer\t: 0x41\n", cores=4)
    assert not cpu.flags_known and not cpu.native_bfloat16
    assert cpu.name and "flags unknown" in cpu.summary()


def test_detect_reads_this_machine_once():
    cpu = machine.detect()
    assert cpu is machine.detect()
    assert cpu.cores == machine.usable_cores() >= 1
    assert isinstance(cpu.flags, frozenset)


def test_missing_cpuinfo_gives_unknown_flags(monkeypatch, tmp_path):
    monkeypatch.setattr(machine, "CPUINFO", str(tmp_path / "no-such-file"))
    machine.detect.cache_clear()
    try:
        cpu = machine.detect()
        assert not cpu.flags_known and not cpu.native_bfloat16 and cpu.cores >= 1
    finally:
        machine.detect.cache_clear()


def test_machine_does_not_load_keras():
    """``dlbook info`` and the benchmark print the CPU before any framework starts."""
    code = "import sys, dlbook.machine; dlbook.machine.detect(); print('keras' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_cpu_quota_reads_cgroup_v2_and_v1(tmp_path):
    assert machine.cpu_quota(str(tmp_path)) is None  # no cgroup files: no quota
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert machine.cpu_quota(str(tmp_path)) is None  # v1 without a quota
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("200000\n")
    assert machine.cpu_quota(str(tmp_path)) == 2.0
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert machine.cpu_quota(str(tmp_path)) is None  # v2 says no quota; v2 is read first
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert machine.cpu_quota(str(tmp_path)) == 1.5


def test_a_quota_caps_the_usable_cores(monkeypatch):
    monkeypatch.setattr(machine, "cpu_quota", lambda: None)
    unlimited = machine.usable_cores()
    monkeypatch.setattr(machine, "cpu_quota", lambda: 0.5)
    assert machine.usable_cores() == 1
    monkeypatch.setattr(machine, "cpu_quota", lambda: 1000.0)
    assert machine.usable_cores() == unlimited
