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
    handlers = start_logging(tmp_path)
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
