"""Clean exits (issue 22): Ctrl-C is exit 130 with one line, a search's Ctrl-C/SIGTERM ends Ray and is not a
finished search, and a malformed hls4ml_config.yml for `l1tag estimate` is exit 2 naming the file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import pytest

from l1tag.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_a_keyboard_interrupt_in_a_command_exits_130(tmp_path, monkeypatch, capsys):
    import l1tag.config

    def interrupted(_file):
        raise KeyboardInterrupt

    monkeypatch.setattr(l1tag.config, "load_config", interrupted)
    assert main(["build", "-c", str(tmp_path / "c.yaml")]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "interrupted; rerun to resume" and "aborted" not in err


def test_ctrl_c_of_a_running_l1tag_exits_130(tmp_path):
    """A real SIGINT through click: it was exit 1 'aborted' (the 130 path was dead code)."""
    script = textwrap.dedent("""
        import sys, time
        import l1tag.config
        def slow(_file):
            print("ready", flush=True)
            time.sleep(60)
        l1tag.config.load_config = slow
        from l1tag.cli import main
        sys.exit(main(["build", "-c", "c.yaml"]))
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # a shell without job control starts background commands with SIGINT ignored, and the child would inherit
    # that (Python then installs no KeyboardInterrupt handler): give it the default disposition, as a terminal does
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.strip() == "interrupted; rerun to resume"


def _fake_ray(calls: list, fit):
    tune = types.SimpleNamespace(
        Tuner=lambda *a, **k: types.SimpleNamespace(fit=fit), grid_search=lambda v: v,
        with_resources=lambda f, r: f, TuneConfig=lambda **k: None, RunConfig=lambda **k: None,
        FailureConfig=lambda **k: None)
    ray = types.ModuleType("ray")
    ray.tune = tune
    ray.is_initialized = lambda: False
    ray.init = lambda **k: calls.append("init")
    ray.shutdown = lambda: calls.append("shutdown")
    return ray, tune


@pytest.mark.parametrize("how", ["ctrl_c", "sigterm"])
def test_an_interrupted_search_stops_ray_and_raises(tmp_path, monkeypatch, how):
    """Ray Tune's own SIGINT handler made fit() return as if done (exit 0, '0 trials', Tuner.restore advice),
    and SIGTERM left Ray's processes running."""
    from l1tag.search import run

    calls: list = []

    def fit():
        calls.append(os.environ.get("TUNE_DISABLE_SIGINT_HANDLER"))
        if how == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        raise KeyboardInterrupt

    ray, tune = _fake_ray(calls, fit)
    monkeypatch.setitem(sys.modules, "ray", ray)
    monkeypatch.setitem(sys.modules, "ray.tune", tune)
    monkeypatch.delenv("TUNE_DISABLE_SIGINT_HANDLER", raising=False)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        run._run_with_ray({}, [{}], tmp_path, False, None)
    assert calls == ["init", "1", "shutdown"]
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize("text, words", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "cannot be read as text"),
    (b"ProjectName: myproject\nHLSConfig: 5\n", "HLSConfig is 5, expected a mapping"),
    (b"ProjectName: [a, b]\n", "ProjectName is ['a', 'b'], expected a string"),
    (b"ProjectName: p\nClockPeriod: .nan\n", "ClockPeriod is nan, expected a positive number"),
    (b"ProjectName: p\nHLSConfig: {Model: 3}\n", "HLSConfig.Model is 3, expected a mapping"),
    (b"KerasModel: {a: 1}\n", "KerasModel is {'a': 1}, expected a string"),
])
def test_estimate_of_a_malformed_hls4ml_config_exits_2(tmp_path, capsys, text, words):
    (tmp_path / "hls4ml_config.yml").write_bytes(text)
    assert main(["estimate", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert words in err and "hls4ml_config.yml" in err and err.count("\n") == 1 and "internal error" not in err
