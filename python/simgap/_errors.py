"""simgap's exceptions. The engine raises them with the CLI's message (naming the file, line, record or setting at
fault) and its exit code."""


class SimgapError(Exception):
    """An error of simgap's engine: bad data, a file that cannot be read or written (the CLI's exit code 1)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class SimgapConfigError(SimgapError, ValueError):
    """Bad settings or usage (the CLI's exit code 2): an unknown facet, k above the rows, a table without the
    columns a stage reads, matrices of different widths. Also a ValueError."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message, exit_code)
