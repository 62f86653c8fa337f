"""Talking to the Hugging Face Hub, and trusting what came from it.

Three things every model berg fetches goes through:

- :func:`hub_unreachable`, asked once before a download. Without a network (no DNS), the
  Hub client retries every request five times with a growing pause and prints each retry:
  half a minute of noise for a failure no retry can fix.
- :func:`fetch_file`, one file into the Hugging Face cache or a folder, whose failures (gated,
  no such repository, revision or file, offline, a transfer cut short) become one-line
  :class:`~berg.errors.ModelLoadError` messages that end with what to do next.
- :func:`verify_files`, the check of downloaded files against the sizes and SHA-256 digests
  recorded for a pinned commit, remembered in a small JSON record so that a file is hashed
  once, not on every load.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlparse

from berg.errors import ModelLoadError

__all__ = [
    "VERIFIED_RECORD",
    "MissingModelError",
    "cache_record_path",
    "fetch_file",
    "hub_unreachable",
    "is_commit",
    "remote_files",
    "verify_files",
    "verify_snapshot",
]


def is_commit(revision: object) -> bool:
    """Whether ``revision`` is a full Git commit id (40 lowercase hex digits), not a branch
    or tag such as ``main``: the Hub cache names its snapshots after commits."""
    return (
        isinstance(revision, str)
        and len(revision) == 40
        and all(c in "0123456789abcdef" for c in revision)
    )


#: Name of the record of files checked against their digests (beside the weights; at the
#: top of a repository's folder in the Hugging Face cache).
VERIFIED_RECORD = ".berg-verified.json"


class MissingModelError(ModelLoadError):
    """A model a run needs is not on this machine and could not be fetched now.

    ``reason`` says why in a few words (``"the Hub is unreachable"``, ``"gated"``), so that
    an error that lists every missing model can say it once.
    """

    def __init__(self, message: str, *, reason: str = ""):
        super().__init__(message)
        self.reason = reason


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


def _reason(error: BaseException) -> str:
    """An error's first line, without its closing full stop (the message goes on)."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    return lines[0].rstrip(". ")


def fetch_file(
    repo: str,
    name: str,
    revision: str,
    *,
    next_step: str,
    local_dir: Path | None = None,
    cache_dir: str | Path | None = None,
    endpoint: str | None = None,
    tqdm_class=None,
) -> Path:
    """Download one file of ``repo`` at ``revision`` (resumably), or say in one line why not.

    Parameters
    ----------
    repo, name, revision : str
        What to fetch.
    next_step : str
        The sentence that ends every error: what the user can do instead, for the interface
        in use.
    local_dir : Path, optional
        Put the file there (as BERG lays out weights); default: the Hugging Face cache.
    cache_dir, endpoint : optional
        The Hugging Face cache and the Hub (or mirror) to use; default: the client's.
    tqdm_class : type, optional
        Progress bar class for the Hub client (``None``: its own bar).

    Returns
    -------
    Path
        The file on disk.

    Raises
    ------
    MissingModelError
        Gated, not found, offline; a transfer cut short; any other network or disk failure.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{repo} (revision {revision})"
    try:
        return Path(
            hf_hub_download(
                repo_id=repo,
                filename=name,
                revision=revision,
                local_dir=local_dir,
                cache_dir=cache_dir,
                endpoint=endpoint,
                tqdm_class=tqdm_class,
            )
        )
    except GatedRepoError as exc:
        raise MissingModelError(
            f"{where} is gated and this machine is not allowed to download {name}: request "
            f"access on https://huggingface.co/{repo}, then log in with a token (`hf auth "
            f"login` or HF_TOKEN). {next_step}",
            reason="gated: no access with this token",
        ) from exc
    except RevisionNotFoundError as exc:
        raise MissingModelError(
            f"revision {revision!r} does not exist in {repo}", reason="no such revision"
        ) from exc
    except RepositoryNotFoundError as exc:
        raise MissingModelError(
            f"{repo} was not found or needs a login (`hf auth login`). {next_step}",
            reason="repository not found or needs a login",
        ) from exc
    except LocalEntryNotFoundError as exc:
        # (Before EntryNotFoundError: it subclasses it in huggingface_hub 2.) What the client
        # raises offline (HF_HUB_OFFLINE=1) or unreachable, with no copy at hand.
        raise MissingModelError(
            f"cannot download {name} from {where}: the Hub is unreachable or offline mode is "
            f"on. {next_step}",
            reason="the Hub is unreachable",
        ) from exc
    except EntryNotFoundError as exc:
        raise MissingModelError(
            f"{name} is not in {where}. {next_step}", reason=f"{name} not found"
        ) from exc
    except HfHubHTTPError as exc:
        raise MissingModelError(
            f"downloading {name} from {where} failed: {_reason(exc)}. {next_step}",
            reason=_reason(exc),
        ) from exc
    except Exception as exc:  # noqa: BLE001 - network/disk errors of any HTTP stack
        short = re.search(r"should be of size (\d+) but has size (\d+)", str(exc))
        if short:  # the client's check of the length the server announced
            expected, got = (int(n) for n in short.groups())
            raise MissingModelError(
                f"the download of {name} from {where} was cut short ({got:,} of {expected:,} "
                "bytes arrived): the connection dropped; run the same command again",
                reason="a transfer was cut short",
            ) from exc
        raise MissingModelError(
            f"downloading {name} from {where} failed: {_reason(exc)}. {next_step}",
            reason=_reason(exc),
        ) from exc


def remote_files(
    repo: str,
    revision: str,
    patterns: Iterable[str] | None = None,
    *,
    endpoint: str | None = None,
) -> dict[str, int]:
    """The files of ``repo`` at ``revision`` (those matching ``patterns``) and their sizes.

    Raises
    ------
    MissingModelError
        The listing failed (as :func:`fetch_file` says it).
    """
    from huggingface_hub import HfApi
    from huggingface_hub.utils import filter_repo_objects

    def listing():
        entries = HfApi(endpoint=endpoint).list_repo_tree(repo, revision=revision, recursive=True)
        return {e.path: int(e.size) for e in entries if getattr(e, "size", None) is not None}

    try:
        files = listing()
    except Exception as exc:  # noqa: BLE001 - any failure of the listing, said in one line
        raise _listing_error(exc, f"{repo} (revision {revision})") from exc
    kept = filter_repo_objects(list(files), allow_patterns=list(patterns) if patterns else None)
    return {name: files[name] for name in kept}


def _listing_error(exc: BaseException, where: str) -> MissingModelError:
    from huggingface_hub.errors import (
        GatedRepoError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    reason = _reason(exc)
    if isinstance(exc, GatedRepoError):
        reason = "gated: no access with this token"
    elif isinstance(exc, RevisionNotFoundError):
        reason = "no such revision"
    elif isinstance(exc, RepositoryNotFoundError):
        reason = "repository not found or needs a login"
    return MissingModelError(f"cannot list the files of {where}: {reason}", reason=reason)


def cache_record_path(snapshot: Path) -> Path:
    """Where the check of a Hugging Face cache snapshot's files is recorded: the top of the
    repository's folder (``models--org--name/``), which the cache's own tools ignore."""
    snapshot = Path(snapshot)
    if snapshot.parent.name == "snapshots":
        return snapshot.parent.parent / VERIFIED_RECORD
    return snapshot / VERIFIED_RECORD


def verify_snapshot(
    folder: Path, *, commit: str, sha256: Mapping[str, str], sizes: Mapping[str, int], what: str
) -> dict[str, dict]:
    """:func:`verify_files` for a Hugging Face cache snapshot of ``commit``: every file the
    card knows a digest or a size of, the check recorded at the top of the repository's
    cache folder under the commit."""
    folder = Path(folder)
    return verify_files(
        folder,
        sorted(set(sha256) | set(sizes)),
        sha256=sha256,
        sizes=sizes,
        what=what,
        record=cache_record_path(folder),
        key_prefix=f"{commit}/",
    )


def verify_files(
    folder: Path,
    names: Iterable[str],
    *,
    sha256: Mapping[str, str],
    sizes: Mapping[str, int],
    what: str,
    record: Path | None = None,
    key_prefix: str = "",
) -> dict[str, dict]:
    """Check files against the sizes and SHA-256 digests known for them, and record it.

    A file whose record (size, modification time, digest) still matches is not hashed
    again. A file that is not the expected one is removed (a Hub cache link and the blob it
    points to), so that the next download fetches it afresh.

    Parameters
    ----------
    folder : Path
        Where the files are (a weights folder or a cache snapshot).
    names : iterable of str
        The files to check; those with neither a size nor a digest are skipped.
    sha256, sizes : mapping
        What the pinned commit holds.
    what : str
        The model, for the message (``"facebook/tribev2 at f894e78..."``).
    record : Path, optional
        The JSON record (default: :data:`VERIFIED_RECORD` in ``folder``).
    key_prefix : str
        Prefix of the record's keys (a commit, where one record serves several snapshots).

    Returns
    -------
    dict
        name -> {size, mtime_ns, sha256} of each checked file.

    Raises
    ------
    ModelLoadError
        A file differs: the message names it with both sizes or both digests.
    """
    from berg.files import atomic_open, file_sha256

    record = Path(record) if record is not None else Path(folder) / VERIFIED_RECORD
    try:
        known = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    checked, problems, changed = {}, [], False
    for name in names:
        if name not in sha256 and name not in sizes:
            continue
        path = Path(folder) / name
        if not path.is_file():  # e.g. removed by an earlier check: fetch it again
            raise MissingModelError(
                f"{name} of {what} is missing from {folder}", reason=f"{name} is missing"
            )
        facts = path.stat()
        found = {"size": facts.st_size, "mtime_ns": facts.st_mtime_ns}
        earlier = known.get(key_prefix + name, {})
        unchanged = all(earlier.get(k) == v for k, v in found.items())
        if unchanged and earlier.get("sha256"):  # hashed before, untouched since
            found["sha256"] = earlier["sha256"]
        problem = ""
        if name in sizes and facts.st_size != sizes[name]:
            problem = f"{facts.st_size:,} bytes where it has {sizes[name]:,}"
        elif name in sha256:
            found["sha256"] = found.get("sha256") or file_sha256(path)
            if found["sha256"] != sha256[name]:
                problem = f"sha256 {found['sha256']} where it has {sha256[name]}"
        if problem:  # every wrong file goes, so that the next download fetches them all
            blob = path.resolve()
            path.unlink(missing_ok=True)
            if blob != path:
                blob.unlink(missing_ok=True)
            problems.append(f"{name} ({problem})")
            continue
        checked[name] = found
        changed |= earlier != found
    if problems:
        raise ModelLoadError(
            f"{' and '.join(problems)} of {what}: not the file(s) that commit holds; removed. "
            "Run the same command again; if it happens again, the Hub, a mirror or a proxy "
            "serves other files"
        )
    if changed:
        with atomic_open(record, "w") as handle:
            json.dump(
                {**known, **{key_prefix + k: v for k, v in checked.items()}}, handle, indent=1
            )
    return checked
