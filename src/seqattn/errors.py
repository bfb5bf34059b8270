"""The one exception type users see: a message that says what is wrong and where."""


class SeqattnError(Exception):
    """A user-facing error. The CLI prints its message on one line, without a traceback."""
