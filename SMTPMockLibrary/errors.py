"""The library's errors. Robot Framework shows their messages without the class name."""


class ConfigurationError(ValueError):
    """A wrong argument: the message says what is allowed."""

    ROBOT_SUPPRESS_NAME = True


class ServerError(RuntimeError):
    """The server could not start, or is not running."""

    ROBOT_SUPPRESS_NAME = True


class MessageFileNotFoundError(FileNotFoundError):
    """``deliver()`` was given the path of a message file that does not exist."""

    ROBOT_SUPPRESS_NAME = True

    def __str__(self) -> str:
        return str(self.strerror)  # it names the path: no "[Errno 2] ...: path"
