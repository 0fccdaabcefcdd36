"""Reading images and masks: NRRD / NIfTI / MHA files and DICOM series, through SimpleITK."""

from __future__ import annotations

import os
import pathlib

from .preprocess import _sitk

OP = "medkern.radiomics.load"


def load(path, series_id=None):
    """A SimpleITK image from a file (NRRD, NIfTI, MHA/MHD, single DICOM ... anything
    SimpleITK reads) or from a folder holding a DICOM series (the first series found, or
    ``series_id``)."""
    sitk = _sitk()
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{OP}: path must be a str or os.PathLike, got {type(path).__name__}")
    p = pathlib.Path(path)
    if p.is_dir():
        reader = sitk.ImageSeriesReader()
        ids = reader.GetGDCMSeriesIDs(str(p))
        if not ids:
            raise ValueError(f"{OP}: no DICOM series in folder {str(p)!r}")
        if series_id is None:
            series_id = ids[0]
        elif series_id not in ids:
            raise ValueError(f"{OP}: series {series_id!r} not in {str(p)!r}; found {list(ids)}")
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(p), series_id))
        return reader.Execute()
    if not p.is_file():
        raise ValueError(f"{OP}: {str(p)!r} does not exist")
    try:
        return sitk.ReadImage(str(p))
    except RuntimeError as e:
        raise ValueError(f"{OP}: SimpleITK cannot read {str(p)!r}: {e}") from None
