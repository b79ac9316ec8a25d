"""Token stores: one suite run against every store, then the file store's own promises."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokensmith.client import FileTokenStore, MemoryTokenStore, TokenSet, TokenStore

from .fakes import FakeClock


def token_set(n: int = 1, *, received_at_s: float = 1000.0, wall_s: float = 1.7e9) -> TokenSet:
    return TokenSet(
        access_token=f"at-{n}",
        refresh_token=f"rt-{n}",
        expires_in_s=900.0,
        received_at_s=received_at_s,
        received_wall_s=wall_s,
        refresh_expires_in_s=604800.0,
    )


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TokenStore]:
    if request.param == "memory":
        yield MemoryTokenStore()
    else:
        yield FileTokenStore(tmp_path / "tokens.json")


# -- every store ----------------------------------------------------------------------------------


def test_a_new_store_holds_no_tokens(store: TokenStore) -> None:
    """An empty store loads ``None``."""
    assert store.load() is None


def test_a_store_gives_back_what_it_was_given(store: TokenStore) -> None:
    """``save`` then ``load`` returns the same tokens and expiry."""
    store.save(token_set(1))
    assert store.load() == token_set(1)
    store.save(token_set(2))
    assert store.load() == token_set(2)


def test_a_cleared_store_holds_no_tokens(store: TokenStore) -> None:
    """``clear`` forgets the tokens; clearing twice is fine."""
    store.save(token_set())
    store.clear()
    store.clear()
    assert store.load() is None


def test_a_store_is_a_token_store(store: TokenStore) -> None:
    """Both stores satisfy the ``TokenStore`` protocol."""
    assert isinstance(store, TokenStore)


def test_a_store_repr_hides_the_tokens(store: TokenStore) -> None:
    """``repr`` tells whether there are tokens, never what they are."""
    store.save(token_set())
    assert "at-1" not in repr(store)
    assert "rt-1" not in repr(store)


# -- the file store -------------------------------------------------------------------------------


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_token_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """The file is created with mode 0600, whatever the umask."""
    old_umask = os.umask(0)
    try:
        FileTokenStore(tmp_path / "tokens.json").save(token_set())
    finally:
        os.umask(old_umask)
    assert mode_of(tmp_path / "tokens.json") == 0o600


def test_a_looser_existing_file_is_replaced_by_a_0600_one(tmp_path: Path) -> None:
    """A token file someone left world-readable becomes 0600 on the next save."""
    path = tmp_path / "tokens.json"
    path.write_text("{}")
    path.chmod(0o644)
    FileTokenStore(path).save(token_set())
    assert mode_of(path) == 0o600


def test_saving_leaves_no_temporary_files(tmp_path: Path) -> None:
    """Only the token file remains in the directory after saves."""
    store = FileTokenStore(tmp_path / "tokens.json")
    for n in range(5):
        store.save(token_set(n))
    assert [p.name for p in tmp_path.iterdir()] == ["tokens.json"]


def test_a_failed_save_keeps_the_old_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the write fails before the rename, the previous file is untouched and the temporary
    file is removed: a reader sees the old tokens or the new ones, never half a file."""
    path = tmp_path / "tokens.json"
    FileTokenStore(path).save(token_set(1))
    before = path.read_bytes()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        FileTokenStore(path).save(token_set(2))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["tokens.json"]


def test_concurrent_saves_leave_one_whole_file(tmp_path: Path) -> None:
    """Twenty threads saving at once leave a valid file holding one of their token sets."""
    path = tmp_path / "tokens.json"
    store = FileTokenStore(path)
    threads = [threading.Thread(target=store.save, args=(token_set(n),)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    restored = FileTokenStore(path).load()
    assert restored is not None
    assert restored.access_token in {f"at-{n}" for n in range(20)}
    assert [p.name for p in tmp_path.iterdir()] == ["tokens.json"]


def test_the_file_is_created_with_its_directory(tmp_path: Path) -> None:
    """A missing parent directory is created (owner-only)."""
    path = tmp_path / "state" / "tokensmith" / "tokens.json"
    FileTokenStore(path).save(token_set())
    assert path.exists()
    assert mode_of(path.parent) == 0o700


def test_tokens_survive_a_restart_with_their_remaining_lifetime(tmp_path: Path) -> None:
    """A new process (a new store, a new monotonic clock) gets the tokens back with the lifetime
    they had left, measured by the wall time elapsed since they were received."""
    path = tmp_path / "tokens.json"
    FileTokenStore(path).save(token_set(received_at_s=50.0, wall_s=1_700_000_000.0))

    later = FakeClock(start_s=7.0)  # the new process's monotonic clock starts anywhere
    restored = FileTokenStore(path, clock=later, wall_clock=lambda: 1_700_000_300.0).load()
    assert restored is not None
    assert restored.access_token == "at-1"
    assert restored.refresh_token == "rt-1"
    assert restored.remaining_s(later()) == pytest.approx(600.0)
    assert restored.refresh_expires_in_s == 604800.0


def test_a_wall_clock_set_back_counts_as_no_time_elapsed(tmp_path: Path) -> None:
    """If the wall clock went backwards between runs, the tokens are taken as just received;
    the server's TOKEN_EXPIRED would correct that, never a crash or a negative age."""
    path = tmp_path / "tokens.json"
    FileTokenStore(path).save(token_set(wall_s=1_700_000_000.0))
    restored = FileTokenStore(path, clock=lambda: 5.0, wall_clock=lambda: 1_600_000_000.0).load()
    assert restored is not None
    assert restored.remaining_s(5.0) == pytest.approx(900.0)


def test_a_constant_wall_clock_error_cancels_out(tmp_path: Path) -> None:
    """A wall clock that is 10 minutes off in both runs restores the right remaining lifetime."""
    path = tmp_path / "tokens.json"
    skew_s = 600.0
    FileTokenStore(path).save(token_set(wall_s=1_700_000_000.0 + skew_s))
    restored = FileTokenStore(
        path, clock=lambda: 0.0, wall_clock=lambda: 1_700_000_100.0 + skew_s
    ).load()
    assert restored is not None
    assert restored.remaining_s(0.0) == pytest.approx(800.0)


def test_the_file_is_read_once_then_memory_is_the_truth(tmp_path: Path) -> None:
    """After the first load, changes to the file by others are not picked up (one process per
    file), and the store keeps working on its memory."""
    path = tmp_path / "tokens.json"
    store = FileTokenStore(path)
    store.save(token_set(1))
    path.unlink()
    assert store.load() == token_set(1)


@pytest.mark.parametrize(
    "content",
    [b"not json", b"[]", b'{"version": 99}', b'{"version": 1, "accessToken": 5}'],
)
def test_an_unreadable_token_file_counts_as_no_tokens(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """A corrupt or foreign file loads as ``None`` with a warning that does not echo it."""
    path = tmp_path / "tokens.json"
    path.write_bytes(content)
    assert FileTokenStore(path).load() is None
    assert "ignoring unreadable token file" in caplog.text
    assert content.decode() not in caplog.text


def test_clear_deletes_the_file(tmp_path: Path) -> None:
    """Clearing removes the token file from disk."""
    path = tmp_path / "tokens.json"
    store = FileTokenStore(path)
    store.save(token_set())
    store.clear()
    assert not path.exists()
    assert FileTokenStore(path).load() is None


def test_the_file_holds_the_wall_time_of_receipt_not_monotonic_time(tmp_path: Path) -> None:
    """What is written is meaningful in another process: lifetimes and the wall time received."""
    path = tmp_path / "tokens.json"
    FileTokenStore(path).save(token_set(received_at_s=123.0, wall_s=1_700_000_000.0))
    document = json.loads(path.read_text())
    assert document["receivedWallS"] == 1_700_000_000.0
    assert document["expiresInS"] == 900.0
    assert 123.0 not in document.values()


def test_a_tilde_in_the_path_means_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``FileTokenStore("~/tokens.json")`` writes under the user's home directory."""
    monkeypatch.setenv("HOME", str(tmp_path))
    FileTokenStore("~/tokens.json").save(token_set())
    assert (tmp_path / "tokens.json").exists()
