"""int8: which subgraphs are quantized, calibration feeds, and the PT2E post-training quantizer."""
