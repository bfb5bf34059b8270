import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqattn.config import SubwordConfig
from seqattn.data.batching import BucketBatcher, make_batch
from seqattn.data.subword import EOS_ID, PAD_ID, SOS_ID, UNK_ID, Subwords
from tests.conftest import synthetic_pairs


def make_subwords(joint=True):
    pairs = synthetic_pairs(300)
    cfg = SubwordConfig(vocab_size=50, joint=joint)
    return Subwords.train([s for s, _ in pairs], [t for _, t in pairs], cfg)


def test_special_ids_are_fixed(tmp_path):
    for joint in (True, False):
        sub = make_subwords(joint)
        for proc in (sub.src, sub.tgt):
            assert (proc.pad_id(), proc.unk_id(), proc.bos_id(), proc.eos_id()) == (
                PAD_ID, UNK_ID, SOS_ID, EOS_ID)
        sub.save(tmp_path / str(joint))
        again = Subwords.load(tmp_path / str(joint))
        assert again.joint == joint
        assert again.encode_tgt(["ALPHA BETA"]) == sub.encode_tgt(["ALPHA BETA"])


SUB = make_subwords()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta", "zeta"]), max_size=12))
def test_encode_decode_round_trip(words):
    text = " ".join(words)
    assert SUB.src.decode(SUB.encode_src([text])[0]) == text


def test_make_batch_shapes_and_shift():
    b = make_batch([[5, 6, 7], [8]], [[9, 10], [11, 12, 13]], [0, 1])
    assert b.src.tolist() == [[5, 6, 7, EOS_ID], [8, EOS_ID, PAD_ID, PAD_ID]]
    assert b.src_lengths.tolist() == [4, 2]
    assert b.tgt_in.tolist() == [[SOS_ID, 9, 10, PAD_ID], [SOS_ID, 11, 12, 13]]
    assert b.tgt_out.tolist() == [[9, 10, EOS_ID, PAD_ID], [11, 12, 13, EOS_ID]]
    assert b.n_tokens == 7


@settings(max_examples=40, deadline=None)
@given(
    lens=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=300),
    batch_size=st.integers(1, 32),
    tokens=st.one_of(st.none(), st.integers(50, 400)),
    seed=st.integers(0, 5),
    epoch=st.integers(0, 3),
)
def test_batcher_neither_drops_nor_duplicates(lens, batch_size, tokens, seed, epoch):
    src, tgt = [a for a, _ in lens], [b for _, b in lens]
    batcher = BucketBatcher(src, tgt, batch_size, tokens, seed)
    batches = batcher.epoch(epoch)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(len(lens)))
    assert batches == BucketBatcher(src, tgt, batch_size, tokens, seed).epoch(epoch)
    for b in batches:
        if tokens is None:
            assert len(b) <= batch_size
        elif len(b) > 1:
            width = max(max(src[i], tgt[i]) + 1 for i in b)
            assert width * len(b) <= tokens


def test_batches_group_similar_lengths():
    lens = [i % 50 for i in range(2000)]
    batches = BucketBatcher(lens, lens, 20, None, 0).epoch(0)
    spread = [max(lens[i] for i in b) - min(lens[i] for i in b) for b in batches]
    assert sorted(spread)[len(spread) // 2] <= 2  # median batch is nearly pad-free
    assert torch.tensor(spread).float().mean() < 5


def test_a_batch_size_beyond_int64_is_one_batch_of_everything():
    lens = [i % 13 for i in range(500)]
    for huge, fits in (((10**20, None), (10**6, None)), ((8, 10**20), (8, 10**9))):
        batches = BucketBatcher(lens, lens, *huge, 0).epoch(1)  # (numpy used to overflow here)
        assert [sorted(b) for b in batches] == [list(range(500))]
        assert batches == BucketBatcher(lens, lens, *fits, 0).epoch(1)  # the same as a budget that fits
