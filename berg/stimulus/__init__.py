"""From a stimulus file to the timeline of events the feature extractors read."""

from berg.stimulus.kinds import STIMULUS_EXTENSIONS, check_stimulus_file

__all__ = ["STIMULUS_EXTENSIONS", "check_stimulus_file"]
