"""Features of a timeline, at 2 Hz, for the brain model.

layers    which hidden states are averaged into layer groups (from config.yaml)
text      Llama-3.2-3B word features (with a shared-prefix fast path)
audio     Wav2Vec-BERT 2.0 chunk features (signal steps, extractor)
video     V-JEPA2 chunk features (frames, preprocessing, resize, extractor)
timed     the value every extractor returns, and the 2 Hz bins of a chunk
cache     a content-addressed, atomic feature cache
models    finding model folders (argument, environment variable, Hub cache)
extractor what the three extractors share (FeatureExtractor): options, checks, loading
loading   reading a transformers folder: its config, its weights
pipeline  all of it for one timeline
"""
