"""The journal file: what a process that adopts it replays, and who may adopt it."""

import stat
from pathlib import Path
from typing import Any

import orjson

from gatewayz.store.journal import JournalFile, journal_files, journal_location


def _batch(seq: int, *names: str) -> dict[str, Any]:
    rows = [["logs", "Row", {"name": name}] for name in names]
    return {"writer": "w1", "seq": seq, "created": "2026-12-01T00:00:00+00:00", "rows": rows}


def _pending_names(journal: JournalFile) -> list[list[str]]:
    """Reads back every batch still to replay."""
    names = []
    while (entry := journal.take()) is not None:
        names.append([row[2]["name"] for row in journal.read(entry)["rows"]])
    return names


def test_a_new_journal_is_locked_until_it_is_closed(tmp_path: Path) -> None:
    journal = JournalFile.create(tmp_path, "db1", "w1")
    journal.append([_batch(1, "a")])
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600, "billing data: owner only"
    assert JournalFile.adopt(journal.path) is None, "its process still holds it"
    journal.close()
    adopted = JournalFile.adopt(journal.path)
    assert adopted is not None
    assert _pending_names(adopted) == [["a"]]
    adopted.close(remove=True)
    assert not journal.path.exists()
    assert JournalFile.adopt(journal.path) is None


def test_replay_skips_done_batches_and_takes_split_parts_in_their_place(
    tmp_path: Path,
) -> None:
    journal = JournalFile.create(tmp_path, "db1", "w1")
    first, second, _ = journal.append([_batch(1, "a"), _batch(2, "b", "c"), _batch(3, "d")])
    journal.done(first)
    journal.split(second, [_batch(4, "b"), _batch(5, "c")])
    journal.close()
    adopted = JournalFile.adopt(journal.path)
    assert adopted is not None
    assert adopted.max_seq == 5 and adopted.pending_rows == 3 and not adopted.finished
    assert _pending_names(adopted) == [["d"], ["b"], ["c"]]
    assert adopted.pending_rows == 0
    adopted.close()


def test_a_split_cut_short_by_a_crash_is_redone_from_the_whole_batch(tmp_path: Path) -> None:
    journal = JournalFile.create(tmp_path, "db1", "w1")
    (ref,) = journal.append([_batch(1, "a", "b")])
    journal.close()
    with journal.path.open("ab") as handle:  # the parts were written, the split line not
        part = {"ref": 9, "part_of": ref, **_batch(2, "a")}
        handle.write(orjson.dumps(part) + b"\n" + b'{"split": ')
    adopted = JournalFile.adopt(journal.path)
    assert adopted is not None
    assert _pending_names(adopted) == [["a", "b"]]
    assert adopted.unreadable == [b'{"split": '], "kept for the dead-letter file"
    adopted.close()


def test_an_emptied_journal_has_nothing_to_replay(tmp_path: Path) -> None:
    journal = JournalFile.create(tmp_path, "db1", "w1")
    journal.append([_batch(1, "a")])
    journal.truncate()
    assert journal.finished and journal.take() is None
    journal.close()
    adopted = JournalFile.adopt(journal.path)
    assert adopted is not None and adopted.finished and adopted.take() is None
    adopted.close()


def test_journals_are_kept_per_database(tmp_path: Path) -> None:
    here = journal_location(f"sqlite+aiosqlite:///{tmp_path}/a.db", None)
    there = journal_location(f"sqlite+aiosqlite:///{tmp_path}/b.db", None)
    assert here.directory == there.directory == tmp_path, "beside the SQLite file"
    assert here.namespace != there.namespace
    pg = journal_location("postgresql+asyncpg://u:secret@db:5432/gw", None)
    assert pg == journal_location("postgresql+asyncpg://u:other@db:5432/gw", None)
    assert pg.directory == Path("gatewayz-journal")
    assert (
        journal_location("postgresql+asyncpg://db/gw", tmp_path / "j").directory == tmp_path / "j"
    )
    JournalFile.create(tmp_path, here.namespace, "w1").close()
    JournalFile.create(tmp_path, there.namespace, "w2").close()
    ours, others = journal_files(tmp_path, here.namespace)
    assert [p.name for p in ours] == [f"gatewayz-journal-{here.namespace}-w1.jsonl"]
    assert [p.name for p in others] == [f"gatewayz-journal-{there.namespace}-w2.jsonl"]
