"""Limits are enforced before expensive work, and a config at the limit is analysed."""

import pytest

import archstat
from archstat.config.expand import MAX_LAYERS
from archstat.errors import ConfigError


def test_a_config_at_the_layer_limit_is_analysed(write_config):
    # the input node plus MAX_LAYERS - 1 convs: exactly MAX_LAYERS nodes
    path = write_config("archstat: 1\nname: chain\ninput: [4, 8, 8]\nlayers:\n"
                        f"  - {{conv: {{out: 4, kernel: 3, padding: 1}}, repeat: {MAX_LAYERS - 1}, id: convs}}\n")
    stats = archstat.analyze(str(path))
    assert len(stats.rows) == MAX_LAYERS
    assert stats.totals.params == (MAX_LAYERS - 1) * (4 * 4 * 9 + 4)
    assert stats.layers == MAX_LAYERS - 1


def test_one_more_layer_is_refused(write_config):
    path = write_config("archstat: 1\nname: chain\ninput: [4, 8, 8]\nlayers:\n"
                        f"  - {{relu: null, repeat: {MAX_LAYERS}}}\n")
    with pytest.raises(ConfigError, match=f"more than {MAX_LAYERS:,} layers"):
        archstat.analyze(str(path))


def test_absurd_sizes_are_exact_integers(cli, write_config):
    path = write_config("archstat: 1\nname: huge\ninput: [3, 1000000000, 1000000000]\nlayers:\n"
                        "  - {conv: {out: 64, kernel: 3, padding: 1}}\n  - {adaptive_avgpool: {out: 1}}\n")
    stats = archstat.analyze(str(path), batch=1_000_000)
    # 1e9 * 1e9 positions * 64 * 27 multiply-adds, times the batch: exact, never a float
    assert stats.totals.macs == 10**18 * 64 * 27 * 10**6
    assert isinstance(stats.totals.activation_bytes, int)
    r = cli("table", str(path), "--format", "json")
    assert r.exit_code == 0 and '"macs": 1728000000000000000000' in r.stdout


def test_exit_codes(cli):
    assert cli("table", "vgg16").exit_code == 0
    assert cli("table", "nonexistent-model").exit_code == 2
    assert cli("table", "vgg16", "--batch", "0").exit_code == 2
    # 1 (runtime: no CUDA here, no torch) and 3 (a check's mismatch) are tested in test_profile,
    # test_no_torch and test_verify
