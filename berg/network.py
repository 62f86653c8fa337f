"""Whether the Hugging Face Hub can be reached at all, asked once before a download.

Without a network (no DNS), the Hub client retries every request five times with a growing
pause and prints each retry: half a minute of noise for a failure no retry can fix. Asking
first whether the Hub's host name resolves lets a download fail at once, in one line, or use
what the local cache holds.
"""

from __future__ import annotations

import socket
from urllib.parse import urlparse

__all__ = ["hub_unreachable"]


def hub_unreachable(endpoint: str | None = None) -> str:
    """Why the Hub cannot be reached at all, or ``""`` when it may be.

    Parameters
    ----------
    endpoint : str, optional
        The Hub's address (default: the client's, ``HF_ENDPOINT`` or huggingface.co).

    Returns
    -------
    str
        ``"offline mode is on (HF_HUB_OFFLINE)"``, ``"huggingface.co cannot be resolved (no
        network or DNS)"``, or ``""``. Only the name is looked up: a reachable name says
        nothing about access, which the download itself finds out.
    """
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "offline mode is on (HF_HUB_OFFLINE)"
    address = urlparse(endpoint or constants.ENDPOINT)
    host = address.hostname
    if not host:
        return ""
    try:
        socket.getaddrinfo(host, address.port or 443, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        return f"{host} cannot be resolved (no network or DNS: {error.strerror})"
    except OSError:
        return ""  # let the download say what is wrong
    return ""
