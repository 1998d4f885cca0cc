"""The one gate every data reader opens a file through: a .gz file is bounded by what it unpacks
to, not only by its own size."""
import gzip

import pytest

from lstmkit.data import textfile
from lstmkit.errors import DataError


def test_a_gzip_file_is_unpacked(tmp_path):
    path = tmp_path / "s.csv.gz"
    path.write_bytes(gzip.compress("t,y\n1,2\n".encode()))
    assert textfile.read_text(path, "data") == "t,y\n1,2\n"


def test_a_gzip_bomb_is_refused_by_its_unpacked_size(tmp_path, monkeypatch):
    monkeypatch.setattr(textfile, "MAX_FILE", 1000)
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(gzip.compress(b"1,2\n" * 10_000))  # 40 kB unpacked from a few hundred bytes
    assert path.stat().st_size < 1000
    with pytest.raises(DataError, match=r"bomb.csv.gz unpacks to more than 1,000 bytes"):
        textfile.read_text(path, "data")
