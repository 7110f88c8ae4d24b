"""Run inside the reference environment: DADApy's values for the measures tlcore implements.

Usage: python dadapy_reference.py IN.npz OUT.json
IN.npz holds ``x``, ``y`` (same N points), ``labels`` and ``ks``; OUT.json gets one entry per k.
"""
import json
import sys

import numpy as np
from dadapy import MetricComparisons

data = np.load(sys.argv[1])
x, y, labels = data["x"].astype(np.float64), data["y"].astype(np.float64), data["labels"]
n = x.shape[0]
out = {}
for k in data["ks"].tolist():
    mx = MetricComparisons(coordinates=x, maxk=n - 1, verbose=False)
    both = MetricComparisons(coordinates=np.hstack([x, y]), maxk=n - 1, verbose=False)
    cx, cy = list(range(x.shape[1])), list(range(x.shape[1], x.shape[1] + y.shape[1]))
    out[str(k)] = {
        "neighbourhood_overlap": float(mx.return_data_overlap(coordinates=y, k=k)),
        "label_overlap": float(mx.return_label_overlap(labels, k=k, weighted=False)),
        "information_imbalance": [float(v) for v in both.return_inf_imb_two_selected_coords(cx, cy, k=k)],
    }
json.dump(out, open(sys.argv[2], "w"))
