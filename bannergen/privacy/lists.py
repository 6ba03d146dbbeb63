"""The two lists of users bannergen keeps about privacy itself, both by pseudonym only.

The forgotten list (``[privacy] forgotten``, one pseudonym a line): users whose records were
removed. Their rows in the shop's own input files, which bannergen never edits, are skipped on
every load, so a rerun does not bring them back. A forget writes the list first and deletes after,
so one interrupted at any point is finished by running it again.

The consent records (``[privacy] consent``, ``pseudonym<TAB>microseconds<TAB>in|out`` a line):
opt-outs and opt-ins received over HTTP. With the events file's own ``consent`` column they decide
which of a user's events count (bannergen.privacy.guard).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bannergen.cache import atomic_write
from bannergen.errors import EnvironmentFailure

if TYPE_CHECKING:
    import pandas as pd

CONSENT_STATES = ("in", "out")


def _read_lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise EnvironmentFailure(f"{path}: cannot read: {exc.strerror or exc}") from exc


@dataclass(frozen=True)
class ForgottenList:
    """The pseudonyms of forgotten users, in the file at ``path``."""

    path: Path

    def read(self) -> frozenset[str]:
        return frozenset(line.strip() for line in _read_lines(self.path))

    def add(self, pseudonyms: Iterable[str]) -> frozenset[str]:
        """Add ``pseudonyms`` (atomically: the old list or the whole new one); returns the new list."""
        now = self.read()
        new = now | frozenset(pseudonyms)
        if new != now:
            atomic_write(self.path, "".join(f"{p}\n" for p in sorted(new)).encode("utf-8"))
        return new

    def replace(self, pseudonyms: Iterable[str]) -> None:
        """The list becomes ``pseudonyms`` (a re-key writes every entry under the new secret)."""
        atomic_write(self.path, "".join(f"{p}\n" for p in sorted(set(pseudonyms))).encode("utf-8"))


@dataclass(frozen=True)
class ConsentRecords:
    """Consent changes received over HTTP, in the file at ``path``."""

    path: Path

    def frame(self) -> pd.DataFrame:
        """user_id (pseudonym), ts_us (int), consent ("in" or "out"): every record, oldest first."""
        import pandas as pd

        rows = [line.split("\t") for line in _read_lines(self.path)]
        rows = [r for r in rows if len(r) == 3 and r[2] in CONSENT_STATES and r[1].isdigit()]
        return pd.DataFrame({"user_id": pd.Series([r[0] for r in rows], dtype="str"),
                             "ts_us": pd.Series([int(r[1]) for r in rows], dtype="int64"),
                             "consent": pd.Series([r[2] for r in rows], dtype="str")})

    def add(self, records: Iterable[tuple[str, int, str]]) -> None:
        """Append (pseudonym, microseconds, "in" | "out") records (the whole file is rewritten atomically)."""
        lines = _read_lines(self.path) + [f"{p}\t{ts}\t{state}" for p, ts, state in records]
        atomic_write(self.path, "".join(f"{line}\n" for line in lines).encode("utf-8"))

    def drop(self, pseudonyms: frozenset[str]) -> int:
        """Remove every record of ``pseudonyms`` (a forget); returns how many went."""
        lines = _read_lines(self.path)
        kept = [line for line in lines if line.split("\t", 1)[0] not in pseudonyms]
        if len(kept) != len(lines):
            atomic_write(self.path, "".join(f"{line}\n" for line in kept).encode("utf-8"))
        return len(lines) - len(kept)

    def opted_out(self) -> frozenset[str]:
        """Users whose newest record is an opt-out."""
        f = self.frame()
        if f.empty:
            return frozenset()
        last = f.sort_values("ts_us", kind="stable").groupby("user_id")["consent"].last()
        return frozenset(last.index[last == "out"])
