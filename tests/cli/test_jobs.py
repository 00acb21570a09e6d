from fractions import Fraction

import pytest

from voxportrait.errors import InvalidOption
from voxportrait.jobs import read_jobs
from voxportrait.options import AnimateOptions


def test_csv_jobs_resolve_paths_and_options(tmp_path):
    f = tmp_path / "jobs.csv"
    f.write_text("portrait,audio,output,fps,seed,full_frame\na.png,b.wav,,30000/1001,4,no\n/abs/c.jpg,d.mp3,x.mp4,,,\n")
    jobs = read_jobs(f, tmp_path / "out")
    assert jobs[0].portrait == tmp_path / "a.png" and jobs[0].output == tmp_path / "out" / "a__b.mp4"
    o = jobs[0].options(AnimateOptions())
    assert o.drive.fps == Fraction(30000, 1001) and o.drive.seed == 4 and o.render.full_frame is False
    assert str(jobs[1].portrait) == "/abs/c.jpg" and jobs[1].output.name == "x.mp4"
    assert jobs[1].options(AnimateOptions()) == AnimateOptions()


def test_jsonl_jobs(tmp_path):
    f = tmp_path / "jobs.jsonl"
    f.write_text(
        '{"portrait": "a.png", "audio": "b.wav", "expression_scale": 1.5}\n\n{"portrait": "c.png", "audio": "b.wav"}\n'
    )
    jobs = read_jobs(f, tmp_path)
    assert len(jobs) == 2 and jobs[0].options(AnimateOptions()).drive.expression_scale == 1.5


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("j.csv", "portrait,audio\na.png,\n", "missing audio"),
        ("j.csv", "portrait,audio,colour\na.png,b.wav,red\n", "unknown column"),
        ("j.csv", "portrait,audio,output\na.png,b.wav,../../etc/x.mp4\n", "without folders"),
        ("j.csv", "portrait,audio,output\na.png,b.wav,x.mp4\nc.png,d.wav,x.mp4\n", "also written by line 2"),
        ("j.csv", "portrait,audio,seed\na.png,b.wav,many\n", "not a valid int"),
        ("j.jsonl", '{"portrait": "a.png"\n', "not valid JSON"),
        ("j.jsonl", "[1, 2]\n", "JSON object"),
        ("j.txt", "x", "must be .csv or .jsonl"),
        ("j.csv", "portrait,audio\n", "lists no jobs"),
    ],
)
def test_bad_job_files_name_the_line(tmp_path, name, text, message):
    f = tmp_path / name
    f.write_text(text)
    with pytest.raises(InvalidOption, match=message):
        read_jobs(f, tmp_path)
