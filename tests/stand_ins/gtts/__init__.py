"""A stand-in for the gTTS package's public API (``gTTS(...).write_to_fp``, ``lang``), so that
berg's use of it is tested without the package, which caps click below what the Hub client
needs, and without Google: it "speaks" a tone, as an MP3, the way Google answers."""

from __future__ import annotations

import numpy as np

from . import lang

__all__ = ["gTTS", "gTTSError", "lang", "CALLS", "OFFLINE"]

#: Every gTTS(...) made: its arguments, for the tests to check.
CALLS: list[dict] = []
#: Set to True to answer as gTTS does without a network.
OFFLINE = False


class gTTSError(Exception):  # noqa: N801, N818 - the name gTTS uses
    pass


class gTTS:  # noqa: N801 - the name gTTS uses
    def __init__(self, text, tld="com", lang="en", slow=False, timeout=None, **kwargs):
        CALLS.append({"text": text, "tld": tld, "lang": lang, "slow": slow, "timeout": timeout})
        self.text = text

    def write_to_fp(self, fp):
        if OFFLINE:
            raise gTTSError("Failed to connect. Probable cause: Unknown")
        from media_factory import mp3_bytes  # the tests' media helpers

        rate = 24000
        seconds = 0.05 * len(self.text.split()) + 0.5
        t = np.arange(int(rate * seconds)) / rate
        tone = (0.4 * np.sin(2 * np.pi * 330 * t) * 32767).astype(np.int16)
        fp.write(mp3_bytes(tone, rate))
