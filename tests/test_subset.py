from __future__ import annotations

import os
import stat
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmark.errors import SubsetError
from benchmark.subset import load_subset, num_tokens, write_uids


@pytest.fixture(scope="module")
def some_uids(tiny_pool):
    uids = np.asarray(tiny_pool.uids)
    return uids[::3][:50]


@pytest.mark.parametrize("suffix", [".txt", ".npy", ".parquet"])
def test_formats_round_trip_to_the_same_hash(tiny_pool, some_uids, tmp_path, suffix):
    path = tmp_path / f"s{suffix}"
    write_uids(path, some_uids[::-1])  # order must not matter
    sub = load_subset(path, tiny_pool)
    ref = tmp_path / "ref.txt"
    write_uids(ref, some_uids)
    assert sub.sha256 == load_subset(ref, tiny_pool).sha256
    assert sub.num_uids == sub.num_unique == len(some_uids)
    assert num_tokens(sub, tiny_pool) > 0


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_written_subsets_take_the_umask_like_any_file(tmp_path, umask):
    # atomic writes go through mkstemp, which makes files private (0600); a subset or
    # entry on a shared cluster must be as readable as a file open() would have made
    uids = np.array([f"{i:032x}" for i in range(5)], dtype="S32")
    old = os.umask(umask)
    try:
        write_uids(tmp_path / "s.txt", uids)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "s.txt").stat().st_mode) == 0o666 & ~umask


def test_datacomp_u8u8_npy_and_string_npy(tiny_pool, some_uids, tmp_path):
    halves = np.array(
        [(int(u[:16], 16), int(u[16:], 16)) for u in some_uids.tolist()], dtype="u8,u8"
    )
    np.save(tmp_path / "dc.npy", np.sort(halves))
    np.save(tmp_path / "str.npy", np.array([u.decode().upper() for u in some_uids.tolist()]))
    a = load_subset(tmp_path / "dc.npy", tiny_pool)
    b = load_subset(tmp_path / "str.npy", tiny_pool)
    assert a.sha256 == b.sha256 and sorted(a.rows) == sorted(b.rows)


def test_repeats_are_upsampling_and_change_the_hash(tiny_pool, some_uids, tmp_path):
    write_uids(tmp_path / "a.txt", some_uids)
    write_uids(tmp_path / "b.txt", np.concatenate([some_uids, some_uids[:5]]))
    a, b = load_subset(tmp_path / "a.txt", tiny_pool), load_subset(tmp_path / "b.txt", tiny_pool)
    assert b.num_uids == a.num_uids + 5 and b.num_unique == a.num_unique
    assert a.sha256 != b.sha256


def test_malformed_line_is_named(tiny_pool, some_uids, tmp_path):
    lines = [u.decode() for u in some_uids[:16].tolist()] + ["xyz"]
    (tmp_path / "bad.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(SubsetError, match=r"line 17: 'xyz' is not a 32-hex uid"):
        load_subset(tmp_path / "bad.txt", tiny_pool)


def test_unknown_uids_are_counted(tiny_pool, some_uids, tmp_path):
    fake = [f"{i:032x}" for i in range(412)]
    (tmp_path / "u.txt").write_text("\n".join([u.decode() for u in some_uids.tolist()] + fake))
    with pytest.raises(
        SubsetError, match=r"412 uids are not in pool text-default-reduced \(first: "
    ):
        load_subset(tmp_path / "u.txt", tiny_pool)
    (tmp_path / "w.txt").write_text("\n".join(fake))
    with pytest.raises(SubsetError, match="another pool"):
        load_subset(tmp_path / "w.txt", tiny_pool)


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("empty.txt", "# nothing\n\n", "empty"),
        ("s.csv", "a,b\n", "unknown subset format"),
        ("obj.npy", None, "not a plain .npy"),
        ("nouid.parquet", None, "no 'uid' column"),
    ],
)
def test_bad_files(tiny_pool, tmp_path, name, content, message):
    path = tmp_path / name
    if name == "obj.npy":
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif name == "nouid.parquet":
        pq.write_table(pa.table({"id": ["x"]}), path)
    else:
        path.write_text(content)
    with pytest.raises(SubsetError, match=message):
        load_subset(path, tiny_pool)


def test_cli_check_json_and_one_line_errors(tiny_pool, some_uids, tmp_path):
    good = tmp_path / "g.txt"
    write_uids(good, some_uids)
    cmd = [sys.executable, "-m", "benchmark.cli", "subset", "check"]
    out = subprocess.run(
        cmd + [str(good), "--pool", tiny_pool.name, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    import json

    info = json.loads(out.stdout)
    assert info["num_uids"] == len(some_uids) and len(info["sha256"]) == 64
    assert info["num_tokens"] > 0 and info["num_unique"] == len(some_uids)
    bad = tmp_path / "b.txt"
    bad.write_text("zz\n")
    res = subprocess.run(cmd + [str(bad), "--pool", tiny_pool.name], capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "line 1: 'zz'" in res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_chunked_reading_gives_the_same_answer(tiny_pool, some_uids, tmp_path, monkeypatch):
    """Chunks of 7 uids (and lines split across reads) give what one chunk gives."""
    import benchmark.subset as subset_mod
    from benchmark.subset import check_subset

    uids = np.concatenate([some_uids, some_uids[:9]])[::-1]
    for suffix in (".txt", ".npy", ".parquet"):
        write_uids(tmp_path / f"s{suffix}", uids)
    whole = {s: load_subset(tmp_path / f"s{s}", tiny_pool) for s in (".txt", ".npy", ".parquet")}
    monkeypatch.setattr(subset_mod, "CHUNK", 7)
    for suffix, ref in whole.items():
        sub = load_subset(tmp_path / f"s{suffix}", tiny_pool)
        assert np.array_equal(sub.rows, ref.rows) and sub.sha256 == ref.sha256
        check = check_subset(tmp_path / f"s{suffix}", tiny_pool)
        assert (check.num_uids, check.num_unique) == (len(uids), len(some_uids))
        assert check.sha256 == ref.sha256 and check.num_tokens == num_tokens(ref, tiny_pool)
    assert np.array_equal(np.asarray(tiny_pool.uids)[whole[".npy"].rows], uids)


def test_txt_comments_case_and_crlf_and_late_errors(tiny_pool, some_uids, tmp_path, monkeypatch):
    import benchmark.subset as subset_mod

    lines = [u.decode() for u in some_uids[:20].tolist()]
    messy = ["# header", ""] + [u.upper() if i % 2 else f"  {u}" for i, u in enumerate(lines)]
    (tmp_path / "m.txt").write_bytes("\r\n".join(messy).encode())
    write_uids(tmp_path / "clean.txt", some_uids[:20])
    assert (
        load_subset(tmp_path / "m.txt", tiny_pool).sha256
        == load_subset(tmp_path / "clean.txt", tiny_pool).sha256
    )
    monkeypatch.setattr(subset_mod, "CHUNK", 4)  # the bad line is in a later chunk
    (tmp_path / "late.txt").write_text("\n".join(lines[:15] + ["g" * 32] + lines[15:]) + "\n")
    with pytest.raises(SubsetError, match=r"line 16: 'g{32}' is not a 32-hex uid"):
        load_subset(tmp_path / "late.txt", tiny_pool)


def test_uid_index_handles_equal_high_halves():
    from benchmark.pool.uidindex import UidIndex, halves_to_hex, hex_to_halves

    hi = np.array([1, 5, 5, 5, 9], dtype=np.uint64)
    lo = np.array([0, 2, 4, 8, 1], dtype=np.uint64)
    index = UidIndex(hi=hi, lo=lo)
    qhi = np.array([5, 5, 5, 9, 5, 0], dtype=np.uint64)
    qlo = np.array([8, 2, 4, 1, 3, 0], dtype=np.uint64)
    order, rows = index.find(qhi, qlo)
    in_query_order = np.empty_like(rows)
    in_query_order[order] = rows
    assert in_query_order.tolist() == [3, 1, 2, 4, -1, -1]
    chars = halves_to_hex(hi, lo)
    assert chars[1].tobytes() == b"0000000000000005" + b"0000000000000002"
    back_hi, back_lo, bad = hex_to_halves(chars)
    assert np.array_equal(back_hi, hi) and np.array_equal(back_lo, lo) and not bad.any()
