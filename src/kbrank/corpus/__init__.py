"""Articles and corpora: the first stage of the flow (articles -> analysis -> indexes -> ...)."""

from .article import KINDS, STATUSES, Article
from .corpus import Corpus
from .loaders import read_beir, read_dataframe, read_jsonl, read_records, write_jsonl
from .records import article_from_record, article_to_record

__all__ = [
    "Article",
    "Corpus",
    "KINDS",
    "STATUSES",
    "article_from_record",
    "article_to_record",
    "read_beir",
    "read_dataframe",
    "read_jsonl",
    "read_records",
    "write_jsonl",
]
