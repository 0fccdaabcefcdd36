"""Per-class time of medkern.radiomics feature classes against pyradiomics' classes, one thread.

One case: a 256x256x64 textured volume with an irregular ellipsoidal ROI of ~50,000 voxels,
spacing (0.8, 0.8, 2.5), binWidth 25, all default features of each class. pyradiomics runs its
class on the ROI bounding box (as its extractor crops); medkern gets the same arrays as a
ClassInput. Interleaved repetitions, medians and ratios.

    MEDKERN_NUM_THREADS=1 python bench/radiomics_classes.py [--reps 5]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time

os.environ.setdefault("MEDKERN_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import SimpleITK as sitk  # noqa: E402
from radiomics import glcm, gldm, glrlm, glszm, ngtdm, shape  # noqa: E402

from medkern.radiomics._input import ClassInput  # noqa: E402
from medkern.radiomics.features import CLASSES  # noqa: E402

logging.getLogger("radiomics").setLevel(logging.ERROR)

ORACLE = {"glcm": glcm.RadiomicsGLCM, "glrlm": glrlm.RadiomicsGLRLM,
          "glszm": glszm.RadiomicsGLSZM, "gldm": gldm.RadiomicsGLDM,
          "ngtdm": ngtdm.RadiomicsNGTDM, "shape": shape.RadiomicsShape}


def make_case(seed=0):
    g = np.random.default_rng(seed)
    shape_ = (64, 256, 256)
    img = g.normal(size=shape_)
    for _ in range(2):
        for ax in range(3):
            img = (np.roll(img, 1, ax) + img + np.roll(img, -1, ax)) / 3
    img = 600 * img + 40 * g.normal(size=shape_) + 50
    z, y, x = np.meshgrid(*[np.arange(s) for s in shape_], indexing="ij")
    r = ((z - 32) / 13) ** 2 + ((y - 128) / 33) ** 2 + ((x - 120) / 28) ** 2
    mask = r + 0.15 * g.normal(size=shape_) <= 1
    return img, mask


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    img, mask = make_case()
    print(f"ROI voxels: {int(mask.sum())}")
    zz, yy, xx = np.nonzero(mask)
    box = tuple(slice(a.min(), a.max() + 1) for a in (zz, yy, xx))
    img_c, mask_c = img[box], mask[box]
    sp = (0.8, 0.8, 2.5)
    image = sitk.GetImageFromArray(img_c)
    image.SetSpacing(sp)
    m = sitk.GetImageFromArray(mask_c.astype(np.uint8))
    m.SetSpacing(sp)
    settings = {"binWidth": 25}
    rows = []
    for name, cls in ORACLE.items():
        mod = CLASSES[name]
        o = cls(image, m, **settings)
        disc = np.where(mask_c, np.asarray(o.imageArray) if name != "shape" else 1, 0).astype(np.int32)
        inp = ClassInput(image=img_c, mask=mask_c, discretized=disc, spacing=sp, settings=settings)
        t_py, t_mk = [], []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            oc = cls(image, m, **settings)  # includes its binning, as in its extractor
            oc.execute()
            t_py.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            mod.compute(inp, mod.DEFAULT_ENABLED)
            t_mk.append(time.perf_counter() - t0)
        py, mk = statistics.median(t_py), statistics.median(t_mk)
        rows.append((name, py, mk))
        print(f"{name:6s} pyradiomics {py * 1e3:9.2f} ms   medkern {mk * 1e3:8.2f} ms   "
              f"ratio {py / mk:7.1f}x", flush=True)
    tp = sum(r[1] for r in rows)
    tm = sum(r[2] for r in rows)
    print(f"total  pyradiomics {tp * 1e3:9.2f} ms   medkern {tm * 1e3:8.2f} ms   ratio {tp / tm:7.1f}x")


if __name__ == "__main__":
    main()
