"""Errors of the HDF5 -> LeRobot converter, phrased for the person who owns the input file."""

from __future__ import annotations


class ConversionError(Exception):
    """The conversion cannot proceed (bad arguments, unreadable file, existing output...)."""


class DemoError(ConversionError):
    """One demonstration is unusable. ``--skip-bad`` converts the others instead of stopping."""

    def __init__(
        self,
        file: str,
        demo: str,
        problem: str,
        *,
        key: str | None = None,
        expected: object | None = None,
        found: object | None = None,
    ) -> None:
        self.file, self.demo, self.key, self.problem = str(file), demo, key, problem
        self.expected, self.found = expected, found
        super().__init__(self._message())

    @property
    def reason(self) -> str:
        """The message without the file name (for the end-of-run summary)."""
        text = f"'{self.key}': {self.problem}" if self.key else self.problem
        if self.expected is not None or self.found is not None:
            text += f" (expected {self.expected}, found {self.found})"
        return text

    def _message(self) -> str:
        return f"{self.file}: {self.demo}: {self.reason}"
