"""Every command-line value is checked before any work starts: `inspect`, `bench`, the digit
classifier, the old spellings; one line on stderr naming the flag, exit status 2."""
import pytest

from cli_run import refused, run


@pytest.mark.parametrize("flags,match", [
    (["--hidden-size", "0"], r"--hidden-size: expected a positive integer, got 0"),
    (["--hidden-size", "-3"], r"--hidden-size: expected a positive integer, got -3"),
    (["--hidden-size", "1000000"], r"--hidden-size: expected an integer of at most 8,192"),
    (["--input-size", "0"], r"--input-size: expected a positive integer, got 0"),
    (["--num-layers", "0"], r"--num-layers: expected a positive integer, got 0"),
    (["--num-layers", "1000"], r"--num-layers: expected an integer of at most 64"),
    (["--proj-size", "-1"], r"--proj-size: expected a non-negative integer, got -1"),
    (["--proj-size", "50"], r"proj_size: expected an int with 0 <= proj_size < hidden_size \(50\), got 50"),
    (["--recurrent-dropout", "1"], r"--recurrent-dropout: expected a finite number in \[0, 1\), got 1\.0"),
    (["--recurrent-dropout", "nan"], r"--recurrent-dropout: expected a finite number in \[0, 1\), got nan"),
    (["--hidden-size", "x"], r"argument --hidden-size: invalid int value: 'x' \(see lstmkit inspect --help\)"),
    (["--engine", "turbo"], r"argument --engine: invalid choice: 'turbo'"),
])
def test_inspect_sizes(capsys, flags, match):
    refused(capsys, "inspect", *flags, match=match)


def test_inspect_gates_path(tmp_path, capsys):
    (tmp_path / "f.txt").write_text("mine")
    refused(capsys, "inspect", "--hidden-size", "4", "--gates", tmp_path / "f.txt" / "g.png",
            match=r"--gates: .*g\.png lies under .*f\.txt, which is a file")
    refused(capsys, "inspect", "--hidden-size", "4", "--gates", tmp_path, match=r"--gates: .* is a directory")
    code, err, out = run(capsys, "inspect", "--hidden-size", "4")
    assert code == 0 and err == [] and out.startswith("LSTM: ")


@pytest.mark.parametrize("flags,match", [
    (["--repeats", "0"], r"--repeats: expected a positive integer, got 0"),
    (["--threads", "0"], r"--threads: expected a positive integer, got 0"),
    (["--updates", "0", "--long-range"], r"--updates: expected a positive integer, got 0"),
    (["--shapes", "S9"], r"--shapes: unknown 'S9'; expected some of S1"),
    (["--modes", "forward,back"], r"--modes: unknown 'back'; expected some of forward, train"),
    (["--repeats", "2.5"], r"argument --repeats: invalid int value: '2\.5'"),
])
def test_bench(capsys, flags, match):
    refused(capsys, "bench", *flags, match=match)


def test_bench_out_is_a_directory(tmp_path, capsys):
    (tmp_path / "engine.md").write_text("mine")
    refused(capsys, "bench", "--out", tmp_path / "engine.md", match=r"--out: expected a directory .* existing file")
    refused(capsys, "bench", "--out", tmp_path / "engine.md" / "x", match=r"lies under .*engine\.md, which is a file")


@pytest.mark.parametrize("flags,match", [
    (["--epochs", "0"], r"--epochs: expected a positive integer, got 0"),
    (["--hidden-size", "-1"], r"--hidden-size: expected a positive integer, got -1"),
    (["--num-layers", "0"], r"--num-layers: expected a positive integer, got 0"),
    (["--seed", "-7"], r"--seed: expected a non-negative integer, got -7"),
    (["--asterisk"], r"--fsdd: trains on the FSDD MFCCs; leave out --asterisk"),
])
def test_digit_classifier(capsys, flags, match):
    refused(capsys, "transcribe", "train", "--fsdd", *flags, match=match)


def test_old_spellings_say_so_and_are_checked_alike(tmp_path, capsys):
    code, err, _ = run(capsys, "forecast", "--epochs", "0")
    assert code == 2 and len(err) == 2 and err[0].startswith("note: `lstmkit forecast --epochs ...` is spelled")
    assert err[1] == "lstmkit forecast: error: --epochs: expected a positive integer, got 0"
    code, err, _ = run(capsys, "transcribe", "digits", "--epochs", "-1")
    assert code == 2 and "transcribe train --fsdd" in err[0] and "--epochs: expected a positive integer" in err[1]
    code, err, _ = run(capsys, "translate", "--model", tmp_path, "--beam", "0", "Open")
    assert code == 2 and "translate predict" in err[0] and "--beam: expected a positive integer" in err[1]


def test_unknown_flags_and_commands_are_one_line(capsys):
    refused(capsys, "forecast", "train", "--lookbak", "3", match=r"unrecognized arguments: --lookbak 3")
    refused(capsys, "frobnicate", match=r"argument COMMAND: invalid choice: 'frobnicate'")


@pytest.mark.parametrize("flags,match", [
    (["--series-embedding", "-1"], r"--series-embedding: expected a non-negative integer, got -1"),
    (["--series-windows", "0"], r"--series-windows: expected a positive integer, got 0"),
])
def test_forecast_panel_flags_name_the_flag(capsys, flags, match):
    refused(capsys, "forecast", "train", "--id-col", "id", *flags, match=match)
