"""Text features: Llama 3.2 hidden states of every spoken word, read in its context.

extractor   TextFeatureExtractor (what the reference computes, and how)
runs        words whose token sequences one forward pass serves
"""

from berg.features.text.extractor import METHODS, TextFeatureExtractor

__all__ = ["METHODS", "TextFeatureExtractor"]
