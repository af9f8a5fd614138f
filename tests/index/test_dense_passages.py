"""Passage splitting: word windows with character offsets that reconstruct the article's text."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbrank import Article
from kbrank.errors import ParameterError
from kbrank.index.passages import Passages, PassageSplitter, split_words

TEXT = st.text(alphabet=st.sampled_from("ab é\n\t.-"), max_size=300)


@settings(max_examples=300, deadline=None)
@given(text=TEXT, words=st.integers(1, 12), data=st.data())
def test_offsets_reconstruct_the_text(text: str, words: int, data) -> None:
    stride = data.draw(st.integers(1, words))
    spans = split_words(text, words=words, stride=stride)
    tokens = re.findall(r"\S+", text)
    if not tokens:
        assert spans == [(0, 0)]
        return
    pieces = [text[s:e].split() for s, e in spans]
    # every window starts and ends on a word, holds at most `words` words, and windows start `stride` apart
    for (s, e), piece in zip(spans, pieces):
        assert text[s:e] == text[s:e].strip() and 1 <= len(piece) <= words
    # the first window starts at the first word, the last ends at the last word
    assert spans[0][0] == text.index(tokens[0]) and spans[-1][1] == len(text.rstrip())
    # dropping each window's overlap with the previous one gives back the text's words exactly
    rebuilt = list(pieces[0])
    for piece in pieces[1:]:
        rebuilt.extend(piece[words - stride:])
    assert rebuilt == tokens
    # consecutive windows overlap by words - stride words (the last may be shorter)
    for before, after in zip(pieces, pieces[1:]):
        overlap = before[stride:]
        assert after[: len(overlap)] == overlap
    # and the spans of all windows, merged, cover the text from its first to its last word
    covered = np.zeros(len(text), bool)
    for s, e in spans:
        covered[s:e] = True
    first, last = spans[0][0], spans[-1][1]
    assert all(covered[i] or text[i].isspace() for i in range(first, last))


def test_default_windows_on_a_long_article() -> None:
    body = " ".join(f"w{i}" for i in range(500))
    article = Article(id="a", title="Title here", body=body)
    splitter = PassageSplitter()
    assert (splitter.words, splitter.stride, splitter.title) == (128, 96, True)
    spans = splitter.spans(article)
    texts = splitter.texts(article, spans)
    assert [len(article.text[s:e].split()) for s, e in spans] == [128, 128, 128, 128, 118]
    assert texts[0] == article.text[spans[0][0] : spans[0][1]] and texts[0].startswith("Title here w0")
    assert texts[1] == "Title here: " + article.text[spans[1][0] : spans[1][1]]
    assert texts[1].split()[2] == "w94"  # 96 words into the article text, which starts with 2 title words
    untitled = PassageSplitter(title=False)
    assert untitled.texts(article, spans)[1] == article.text[spans[1][0] : spans[1][1]]


def test_an_article_without_words_has_one_empty_passage() -> None:
    assert PassageSplitter().spans(Article(id="e", title="", body="  \n ")) == [(0, 0)]


@pytest.mark.parametrize("words, stride, parameter", [(0, 1, "passage_words"), (10, 11, "passage_stride"),
                                                      (10, 0, "passage_stride"), (2.5, 1, "passage_words")])
def test_bad_passage_settings_name_the_parameter(words, stride, parameter) -> None:
    with pytest.raises(ParameterError, match=f"^{parameter} must be") as info:
        PassageSplitter(words=words, stride=stride)
    assert info.value.parameter == parameter


def test_passages_map_rows_both_ways() -> None:
    p = Passages.from_spans([[(0, 4), (2, 9), (5, 12)], [(0, 0)], [(0, 3), (1, 7)]])
    assert p.article_rows.tolist() == [0, 0, 0, 1, 2, 2]
    assert p.indptr.tolist() == [0, 3, 4, 6] and p.counts().tolist() == [3, 1, 2]
    assert p.rows_of(np.array([2, 0])).tolist() == [4, 5, 0, 1, 2]
    assert p.rows_of(np.array([], dtype=np.int64)).tolist() == []
    assert not p.starts.flags.writeable
    with pytest.raises(ValueError, match="sorted"):
        Passages(article_rows=[1, 0], starts=[0, 0], ends=[1, 1])
