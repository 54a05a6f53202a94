"""The library's errors. Robot Framework shows their messages without the class name."""


class ConfigurationError(ValueError):
    """A wrong argument: the message says what is allowed."""

    ROBOT_SUPPRESS_NAME = True


class ServerError(RuntimeError):
    """The server could not start, or is not running."""

    ROBOT_SUPPRESS_NAME = True
