"""Local transformer NER: features, model, decoding, calibration, training and the extractor."""
