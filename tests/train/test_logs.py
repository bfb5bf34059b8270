"""A run log that cannot be written costs one warning, not a traceback per line."""

import errno

from seqattn.train.logs import log, start_logging, stop_logging


class FullDisk:
    def write(self, _text):
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self):
        raise OSError(errno.ENOSPC, "No space left on device")

    def close(self):
        pass


def test_full_disk_warns_once_and_keeps_logging_to_the_terminal(tmp_path, capsys):
    handlers = start_logging(tmp_path / "train.log")
    try:
        log.info("first line")
        handlers[0].stream = FullDisk()
        for i in range(3):
            log.info("line %d", i)
    finally:
        stop_logging(handlers)
    err = capsys.readouterr().err
    assert err.count("warning: cannot write") == 1 and "No space left on device" in err
    assert "Traceback" not in err and "Logging error" not in err
    assert "line 2" in err  # the terminal still gets every line
    assert (tmp_path / "train.log").read_text(encoding="utf-8").count("first line") == 1
    assert log.propagate and not any(h in log.handlers for h in handlers)


def test_tensorboard_on_a_full_disk_is_switched_off_with_one_warning(tmp_path, monkeypatch, capsys, caplog):
    from tensorboard.summary.writer import record_writer

    from seqattn.train.metrics import MetricsLog

    metrics = MetricsLog(tmp_path / "metrics.csv", tmp_path / "tensorboard")
    metrics.add(1, "train", loss=2.0)
    metrics.tb.flush()  # written while the disk had room

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(record_writer.RecordWriter, "write", full)
    metrics.add(2, "train", loss=1.5)
    metrics._tensorboard("flush")  # the writer thread fails; the main thread meets it here
    for step in range(3, 6):
        metrics.add(step, "train", loss=1.0)
    metrics.close()
    assert metrics.tb is None
    warnings = [r for r in caplog.records if "TensorBoard logging stopped" in r.getMessage()]
    assert len(warnings) == 1 and "No space left on device" in warnings[0].getMessage()
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Exception in thread" not in err
    rows = (tmp_path / "metrics.csv").read_text(encoding="utf-8").splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3", "4", "5"]  # the CSV goes on
