"""Typing slips for the demo conversations: one neighboring key, a dropped, doubled or swapped character, or
the letter O for a zero, and a check that a slip still reads as one name only."""

from __future__ import annotations

import random

__all__ = ["one_edit", "slip"]

_KEYBOARD = {
    "0": "9p",
    "1": "2q",
    "2": "13w",
    "3": "24e",
    "4": "35r",
    "5": "46t",
    "6": "57y",
    "7": "68u",
    "8": "79i",
    "9": "80o",
    "a": "sq",
    "e": "wr",
    "o": "ip",
    "r": "et",
    "t": "ry",
    "m": "n",
    "d": "sf",
    "c": "xv",
    "x": "zc",
    "h": "gj",
    "s": "ad",
    "l": "k",
    "b": "vn",
    "i": "uo",
    "u": "yi",
}


def one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are at most one insertion, deletion, substitution or swap apart."""
    a, b = a.replace("o", "0"), b.replace("o", "0")
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def slip(rng: random.Random, word: str) -> str:
    """One typing slip: a neighboring key, a dropped or doubled character, two swapped, or O for zero."""
    i = rng.randrange(len(word))
    op = rng.choice(("key", "drop", "double", "swap", "zero"))
    if op == "zero" and "0" in word:
        j = word.index("0")
        return word[:j] + "O" + word[j + 1 :]
    if op == "swap" and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == "double":
        return word[:i] + word[i] + word[i:]
    if op == "drop" and len(word) > 3:
        return word[:i] + word[i + 1 :]
    near = _KEYBOARD.get(word[i].lower())
    if near:
        return word[:i] + rng.choice(near) + word[i + 1 :]
    return word[:i] + word[i] + word[i:]
