"""An interactive viewer in the browser: the stimulus beside the predicted response on the
inflated cortex, offline, from one file.

    write_viewer(responses, metadata, "clip.html", stimulus="clip.mp4")   # = berg view
    show(responses, metadata)                                             # in a notebook

The page holds everything (three.js, vendored from npm under ``berg/viewer/vendor`` with
its licence; the mesh; the rows as 8-bit steps; the stimulus), needs no server and reaches
no network: open it from the disk. Needs ``berg-tribe[plot]`` (the colour maps, the mesh).
"""

from berg.viewer.page import COLORMAPS, pack, write_viewer

__all__ = ["COLORMAPS", "pack", "show", "write_viewer"]


def show(responses, metadata, *, stimulus=None, contributions=None, height: int = 760):
    """The viewer inline in a Jupyter notebook (an ``IPython.display.HTML`` of an iframe
    holding the page).

    Parameters
    ----------
    responses, metadata, stimulus, contributions
        As for :func:`write_viewer`.
    height : int
        Pixels of the frame.
    """
    import html
    import tempfile
    from pathlib import Path

    from berg.errors import MissingDependencyError

    try:
        from IPython.display import HTML
    except ImportError as error:
        raise MissingDependencyError(
            "show() displays the viewer in a Jupyter notebook and needs IPython; elsewhere "
            "use write_viewer(..., 'viewer.html') and open the file"
        ) from error
    with tempfile.TemporaryDirectory() as folder:
        page = write_viewer(
            responses, metadata, Path(folder) / "viewer.html", stimulus=stimulus,
            contributions=contributions,
        )  # fmt: skip
        text = page.read_text(encoding="utf-8")
    return HTML(
        f'<iframe srcdoc="{html.escape(text)}" style="width:100%;height:{height}px;border:0">'
        "</iframe>"
    )
