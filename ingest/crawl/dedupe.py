"""Near-duplicate pages (print views, session-id copies, mirrors) found by 64-bit SimHash."""

from __future__ import annotations

import hashlib
import re
import threading

import numpy as np

_WORD = re.compile(r"\w+")
# Pages this short are compared exactly: a few shared words would make SimHashes collide.
MIN_WORDS = 20
# 3 of 64 bits: the usual threshold for "same page with small edits" (Manku et al., 2007).
MAX_DISTANCE = 3
_BANDS = 4  # with <= 3 differing bits, at least one of 4 16-bit bands is identical


def fingerprint(text: str) -> str:
    """A SimHash of the word trigrams of ``text`` (or an exact hash of short texts), as hex."""
    words = _WORD.findall(text.lower())
    if len(words) < MIN_WORDS:
        return "x" + hashlib.sha256(" ".join(words).encode()).hexdigest()[:31]
    digests = b"".join(
        hashlib.blake2b(" ".join(words[i : i + 3]).encode(), digest_size=8).digest()
        for i in range(len(words) - 2)
    )
    # Bit columns summed with numpy: a pure-Python loop over 64 bits per shingle costs more
    # than fetching the page.
    bits = np.unpackbits(np.frombuffer(digests, dtype=np.uint8)).reshape(-1, 64)
    majority = bits.sum(axis=0, dtype=np.int64) * 2 > len(bits)
    return bytes(np.packbits(majority)).hex()


class FingerprintIndex:
    """Fingerprints of a crawl's pages by URL, answering "is this page a near-duplicate?"."""

    def __init__(self) -> None:
        self._by_url: dict[str, str] = {}
        self._bands: dict[tuple[int, str], set[str]] = {}
        self._lock = threading.Lock()

    def add(self, url: str, print_: str) -> None:
        """Record (or replace) the fingerprint of ``url``."""
        with self._lock:
            self._add(url, print_)

    def _add(self, url: str, print_: str) -> None:
        old = self._by_url.get(url)
        if old is not None:
            for key in _band_keys(old):
                self._bands.get(key, set()).discard(url)
        self._by_url[url] = print_
        for key in _band_keys(print_):
            self._bands.setdefault(key, set()).add(url)

    def claim(self, url: str, print_: str) -> str | None:
        """Record ``url`` unless another URL's page is the same or nearly so; return that URL.

        Check and record are one step, so two copies fetched at once cannot both get in.
        """
        with self._lock:
            candidates = {u for key in _band_keys(print_) for u in self._bands.get(key, ())}
            for other in sorted(candidates - {url}):
                if _distance(self._by_url[other], print_) <= MAX_DISTANCE:
                    return other
            self._add(url, print_)
        return None


def _band_keys(print_: str) -> list[tuple[int, str]]:
    if print_.startswith("x"):
        return [(-1, print_)]
    return [(band, print_[band * 4 : band * 4 + 4]) for band in range(_BANDS)]


def _distance(a: str, b: str) -> int:
    if a.startswith("x") or b.startswith("x"):
        return 0 if a == b else 64
    return (int(a, 16) ^ int(b, 16)).bit_count()
