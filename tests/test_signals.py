"""Ctrl-C and SIGTERM stop every verb cleanly whatever instant they land at (`seqattn.stopping`).

The unit tests run a few lines under `stopping.install()` in a child process, since the
policy ends its process; the campaign sends signals at random instants to every verb
(`benchmarks/signal_campaign.py`, which runs a longer campaign).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap

import pytest

from benchmarks import signal_campaign

HEADER = """
import os, signal, sys, time
from seqattn import stopping
stopping.install(deferrable=True)
"""


def _child(body: str, timeout: float = 30) -> subprocess.CompletedProcess:
    code = HEADER + textwrap.dedent(body)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_signal_inside_a_destructor_still_stops_the_process(name):
    # A handler that raises KeyboardInterrupt is lost here: Python prints "Exception ignored in"
    # and carries on (how `serve` once kept running after SIGTERM during its imports).
    r = _child(f"""
        class Slow:
            def __del__(self):
                os.kill(os.getpid(), signal.{name})
                time.sleep(0.5)
        Slow()
        time.sleep(5)
        print("carried on")
    """)
    assert r.returncode == 130 and "carried on" not in r.stdout
    assert r.stderr.splitlines() == [f"seqattn: interrupted by {name}"]


def test_clean_ups_run_innermost_first_and_their_note_is_said(tmp_path):
    marker = tmp_path / "half-made"
    r = _child(f"""
        import pathlib
        marker = pathlib.Path({str(marker)!r}); marker.write_text("x")
        order = []
        with stopping.on_stop(lambda: marker.unlink(), "(the half-made file is removed)"):
            with stopping.on_stop(lambda: print("inner first", flush=True)):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
    """)
    assert r.returncode == 130 and not marker.exists() and r.stdout == "inner first\n"
    assert r.stderr.strip() == "seqattn: interrupted by SIGTERM (the half-made file is removed)"


def test_a_deferred_region_notes_the_first_signal_and_stops_at_the_second():
    r = _child("""
        with stopping.deferred("again: stopped at once") as d:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            print("noted", d.signal, flush=True)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
            print("not reached")
    """)
    assert r.returncode == 130 and r.stdout == "noted SIGINT\n"
    assert r.stderr.strip() == "seqattn: interrupted by SIGTERM again: stopped at once"


def test_a_verb_that_may_not_defer_stops_at_the_first_signal():
    r = _child("""
        stopping.allow_deferral(False)
        with stopping.deferred() as d:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
            print("not reached")
    """)
    assert r.returncode == 130 and r.stdout == ""


def test_without_install_a_deferred_region_restores_pythons_handlers():
    from seqattn import stopping

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with stopping.deferred() as d:
        os.kill(os.getpid(), signal.SIGINT)
        assert d.signal == "SIGINT"
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("signal-world")
    signal_campaign.make_world(folder)
    return folder


@pytest.mark.parametrize("verb", signal_campaign.VERBS)
def test_signals_at_random_instants_stop_every_verb_cleanly(world, verb):
    """One random instant per signal in CI; `benchmarks/signal_campaign.py` runs many more."""
    seed = random.SystemRandom().randrange(1 << 30)
    trials = signal_campaign.campaign(world, [verb], 1, seed)
    problems = [f"{t.signal} at {t.delay_s} s: {t.problem}" for t in trials if t.problem]
    assert not problems, f"seed {seed}: {problems}"
