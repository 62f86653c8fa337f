"""The ``berg`` command line.

    berg models                         list the model ids
    berg describe MODEL_ID              print the model card
    berg metadata MODEL_ID [--json F]   summarise (or save) the metadata, no weights needed
    berg download [MODEL_ID] [--modalities text,audio,video] [--asr-model NAME]
                                        fetch every model a run needs, ahead of time
    berg selftest                       check the install with tiny random models
    berg plot NAME.npz [--time T]       cortical map and ROI time courses of a result
    berg localizer COND=PATH ... -o DIR [--design event|block] [--contrast A-B ...]
                                        an in silico experiment: maps, area tables, report
    berg contributions NAME.npz|FILE -o DIR
                                        what each modality adds (the response without it)
    berg cache [--clear]                show (or clear) the feature and speech cache
    berg doctor [--offline]             what this machine has and lacks
    berg demo [-o DIR]                  encode the packaged sample video (or run the self-test)
    berg encode FILE... -o DIR [--roi NAME ...] [--device auto|cpu|cuda|mps] [--format ...]
                                        predict responses and write npz/json/GIfTI/CSV files
    berg encode-batch SOURCE -o DIR [--ray | --ray-address ADDR] [--workers N] ...
                                        a folder, glob or manifest, resumably, with an index

Errors print one line (``berg: error: ...``) and exit with status 1 (2 for bad usage, as
argparse does); ``--verbose`` shows the traceback.
"""

from berg.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
