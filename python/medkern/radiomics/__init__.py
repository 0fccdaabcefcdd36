"""pyradiomics-compatible radiomics feature extraction."""
