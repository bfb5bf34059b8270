import gzip

import pytest

from seqattn.config import CorpusSpec, DataConfig, SplitConfig
from seqattn.data.blocks import input_files
from seqattn.data.corpus import read_corpus, read_lines, resolve_path, split_corpus
from seqattn.data.pipeline import encode_split, load_splits
from seqattn.data.subword import Subwords
from seqattn.errors import SeqattnError
from tests.fifo import fifo_with_writer, fifo_without_writer


def two_files(tmp_path, src: bytes, tgt: bytes) -> CorpusSpec:
    (tmp_path / "a.src").write_bytes(src)
    (tmp_path / "a.tgt").write_bytes(tgt)
    return CorpusSpec(src=str(tmp_path / "a.src"), tgt=str(tmp_path / "a.tgt"))


def test_plain_and_gzip_files(tmp_path):
    (tmp_path / "x.de.gz").write_bytes(gzip.compress(b"Hallo Welt\nZwei\n"))
    (tmp_path / "x.en").write_text("Hello world\r\nTwo\r\n")
    text = read_corpus(CorpusSpec(src=str(tmp_path / "x.de.gz"), tgt=str(tmp_path / "x.en")))
    assert text.src == ["Hallo Welt", "Zwei"] and text.tgt == ["Hello world", "Two"]


def test_bom_is_dropped(tmp_path):
    text = read_corpus(two_files(tmp_path, b"\xef\xbb\xbfeins\n", b"one\n"))
    assert text.src == ["eins"]


def test_bundled_tatoeba_tsv_layout():
    spec = CorpusSpec(tsv="builtin:tatoeba-kor-eng", src_column=1, tgt_column=0)
    text = read_corpus(spec)
    assert len(text) == 3798
    assert text.src[0] == "가." and text.tgt[0] == "Go."
    assert (resolve_path("builtin:tatoeba-kor-eng").parent / "ATTRIBUTION.md").is_file()


def test_line_count_mismatch(tmp_path):
    with pytest.raises(SeqattnError, match=r"a\.src has 2 lines but .*a\.tgt has 1"):
        read_corpus(two_files(tmp_path, b"a\nb\n", b"x\n"))


def test_invalid_utf8_names_file_and_line(tmp_path):
    with pytest.raises(SeqattnError, match=r"a\.tgt:2: invalid UTF-8"):
        read_corpus(two_files(tmp_path, b"a\nb\n", b"x\n\xff\xfe\n"))


def test_nul_byte(tmp_path):
    with pytest.raises(SeqattnError, match=r"a\.src:1: contains a NUL byte"):
        read_corpus(two_files(tmp_path, b"a\x00b\n", b"x\n"))


def test_tsv_with_one_column(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text("hello\thallo\nonly-one-column\n")
    with pytest.raises(SeqattnError, match=r"c\.tsv:2: expected at least 2 tab-separated columns, found 1"):
        read_corpus(CorpusSpec(tsv=str(path)))


def test_empty_corpus(tmp_path):
    with pytest.raises(SeqattnError, match="empty corpus"):
        read_corpus(two_files(tmp_path, b"", b""))
    with pytest.raises(SeqattnError, match="empty corpus"):
        read_corpus(two_files(tmp_path, b"\n \n", b"x\n\n"))


def test_missing_file(tmp_path):
    with pytest.raises(SeqattnError, match=r"nope\.src: file not found"):
        read_corpus(CorpusSpec(src=str(tmp_path / "nope.src"), tgt=str(tmp_path / "x")))


def test_bad_gzip(tmp_path):
    (tmp_path / "bad.gz").write_bytes(b"not gzip at all")
    (tmp_path / "ok").write_text("x\n")
    with pytest.raises(SeqattnError, match=r"bad\.gz: cannot read"):
        read_corpus(CorpusSpec(src=str(tmp_path / "bad.gz"), tgt=str(tmp_path / "ok")))


def test_unknown_builtin():
    with pytest.raises(SeqattnError, match="unknown built-in corpus"):
        resolve_path("builtin:nothing")


def test_seeded_split_is_disjoint_and_stable():
    text = read_corpus(CorpusSpec(tsv="builtin:tatoeba-kor-eng", src_column=1, tgt_column=0))
    split = SplitConfig(dev_size=100, test_size=50, seed=7)
    train, dev, test = split_corpus(text, split)
    assert (len(train), len(dev), len(test)) == (3648, 100, 50)
    again = split_corpus(text, split)
    assert again[1].src == dev.src and again[2].tgt == test.tgt
    with pytest.raises(SeqattnError, match="cannot be split"):
        split_corpus(text, SplitConfig(dev_size=3000, test_size=3000))


def test_empty_and_overlong_pairs_are_skipped_and_counted(tmp_path, caplog):
    lines_src = ["a b c", "", "a " * 50, "b c"]
    lines_tgt = ["A B C", "X", "A " * 50, ""]
    spec = two_files(tmp_path, "".join(x + "\n" for x in lines_src).encode(),
                     "".join(x + "\n" for x in lines_tgt).encode())
    cfg = DataConfig(train=spec, dev=spec)
    train, _, _ = load_splits(cfg)
    sub = Subwords.train(train.src, train.tgt, cfg.subword.model_copy(update={"vocab_size": 20}))
    with caplog.at_level("INFO", logger="seqattn"):
        enc = encode_split(train, sub, max_len=10, name="train")
    assert len(enc) == 1 and enc.text.src == ["a b c"]
    assert "skipped 2 empty and 1 over-long" in caplog.text


def test_a_pipe_is_read_once_where_once_is_enough(tmp_path):
    with fifo_with_writer(tmp_path / "pipe.gz", gzip.compress(b"eins\nzwei\n")) as pipe:
        assert read_lines(str(pipe)) == ["eins", "zwei"]
    with fifo_with_writer(tmp_path / "pipe.txt", b"a\nb\x00" + bytes(5 << 20)) as pipe:
        with pytest.raises(SeqattnError, match=r"pipe.txt:2: contains a NUL byte"):
            read_lines(str(pipe))
    with pytest.raises(SeqattnError, match=r"nothing.txt: file not found"):
        read_lines(str(tmp_path / "nothing.txt"))
    with pytest.raises(SeqattnError, match=r": is a folder, not a text file"):
        read_lines(str(tmp_path))


@pytest.mark.parametrize("layout", ["src", "tsv"])
def test_training_data_must_be_a_regular_file(tmp_path, layout):
    (tmp_path / "a.tgt").write_text("one\n")
    with fifo_without_writer(tmp_path / "pipe") as pipe:
        spec = (CorpusSpec(src=str(pipe), tgt=str(tmp_path / "a.tgt")) if layout == "src"
                else CorpusSpec(tsv=str(pipe)))
        with pytest.raises(SeqattnError, match=r"pipe: is a pipe, not a regular file; training data must be "
                           "a regular file because it is read more than once"):
            read_corpus(spec)
        with pytest.raises(SeqattnError, match=r"pipe: is a pipe, not a regular file"):
            input_files(spec)  # (what prepare reads, in three passes)
    with pytest.raises(SeqattnError, match=r"/dev/null: is a character device, not a regular file"):
        read_corpus(CorpusSpec(src="/dev/null", tgt=str(tmp_path / "a.tgt")))
