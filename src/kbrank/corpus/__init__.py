"""Articles and corpora: the first stage of the flow (articles -> analysis -> indexes -> ...)."""

from .article import KINDS, STATUSES, Article
from .corpus import Corpus
from .loaders import write_jsonl
from .records import article_from_record, article_to_record

#: Module-level spellings of the `Corpus` loaders.
read_jsonl = Corpus.from_jsonl
read_beir = Corpus.from_beir
read_records = Corpus.from_records
read_dataframe = Corpus.from_dataframe

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
