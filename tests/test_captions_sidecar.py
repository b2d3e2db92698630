"""Caption sidecars: JSONL, CSV and Parquet read to the same mapping; bad files fail naming the problem."""
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from semanticgen.store.captions import read_captions

WANT = {"c1": "a cat on a mat", "c2": "rain, then sun"}


def test_formats_agree(tmp_path):
    (tmp_path / "c.jsonl").write_text('{"clip_id": "c1", "caption": " a cat on a mat "}\n\n'
                                      '{"clip_id": "c2", "caption": "rain, then sun", "extra": 1}\n')
    (tmp_path / "c.csv").write_text('clip_id,caption\nc1,a cat on a mat\nc2,"rain, then sun"\n')
    pq.write_table(pa.table({"clip_id": ["c1", "c2"], "caption": ["a cat on a mat", "rain, then sun"]}),
                   tmp_path / "c.parquet")
    for ext in ("jsonl", "csv", "parquet"):
        assert read_captions(str(tmp_path / f"c.{ext}")) == WANT, ext


@pytest.mark.parametrize("name,text,match", [
    ("a.jsonl", '{"clip_id": "c1", "caption": "x"}\nnot json\n', "line 2 is not JSON"),
    ("b.jsonl", '{"clip_id": "c1"}\n', r"missing column\(s\) \['caption'\]"),
    ("c.jsonl", '{"clip_id": "c1", "caption": "x"}\n{"clip_id": "c2", "caption": "  "}\n', "entry 2"),
    ("d.jsonl", '{"clip_id": "c1", "caption": "x"}\n{"clip_id": "c1", "caption": "y"}\n', "two different"),
    ("e.txt", "c1 x\n", "must be .jsonl, .csv or .parquet"),
])
def test_bad_files_fail_clearly(tmp_path, name, text, match):
    (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=match):
        read_captions(str(tmp_path / name))
    with pytest.raises(ValueError, match="no such captions file"):
        read_captions(str(tmp_path / "missing.jsonl"))


def test_encode_job_rejects_a_bad_sidecar_before_any_work(tmp_path, capsys):
    from jobs import encode

    (tmp_path / "bad.jsonl").write_text("{oops\n")
    code = encode.main(["--config", "tiny", "--store", str(tmp_path / "store"), "--captions", str(tmp_path / "bad.jsonl"),
                        "mlflow.enabled=false"])
    assert code == 2 and "line 1 is not JSON" in capsys.readouterr().err
    assert not (tmp_path / "store").exists()
