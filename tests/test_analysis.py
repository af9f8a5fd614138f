from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kbrank import Analyzer, ParameterError


def test_help_centre_tokens_stay_whole() -> None:
    tokens = Analyzer()("Router X200 shows E-102 and 0x80070005 after updating to v2.3.1 (KB-4021)")
    for expected in ("x200", "e-102", "0x80070005", "2.3.1", "kb-4021"):
        assert expected in tokens


def test_stopwords_and_stemming() -> None:
    assert Analyzer()("The routers are connecting") == ["router", "connect"]
    assert Analyzer(stemmer=None)("The routers are connecting") == ["routers", "connecting"]
    assert Analyzer(stopwords=None, stemmer=None)("The routers") == ["the", "routers"]
    assert Analyzer(stopwords=["routers"], stemmer=None)("The routers") == ["the"]


def test_unicode_normalization() -> None:
    assert Analyzer()("Ｘ２００ ＷＩＦＩ") == ["x200", "wifi"]


def test_custom_tokenizer_for_cjk() -> None:
    analyzer = Analyzer(tokenizer=lambda text: list(text.replace(" ", "")), stemmer=None, stopwords=None)
    assert analyzer("路由器") == ["路", "由", "器"]


def test_bad_parameters_are_named() -> None:
    with pytest.raises(ParameterError, match="stemmer must be a PyStemmer language"):
        Analyzer(stemmer="klingon")
    with pytest.raises(ParameterError, match="normalization must be one of"):
        Analyzer(normalization="NFX")


def test_config_round_trip() -> None:
    analyzer = Analyzer(stopwords=["a", "b"], stemmer="german")
    assert Analyzer.from_config(analyzer.to_config()).to_config() == analyzer.to_config()


@given(st.text())
def test_deterministic_and_never_fails(text: str) -> None:
    assert Analyzer()(text) == Analyzer()(text)
