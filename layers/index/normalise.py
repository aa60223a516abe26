"""Min–max normalisation (极差标准化) pooled over every (place, year) row, so that years stay
comparable: positive x' = (x − min)/(max − min), negative x' = (max − x)/(max − min)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def minmax(values: pd.DataFrame, directions: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`values`: rows (place, year), one column per indicator, no missing values;
    `directions`: +1 or −1 per column. Returns x' in [0, 1] and, per indicator, the min, max
    and whether it is constant (max = min: every x' is set to 1, it cannot tell places
    apart, and its entropy and CRITIC weights are 0)."""
    low, high = values.min(), values.max()
    span = high - low
    constant = span == 0
    safe = span.where(~constant, 1.0)
    positive = (values - low) / safe
    negative = (high - values) / safe
    plus = (directions.reindex(values.columns) > 0).to_numpy()
    out = pd.DataFrame(np.where(plus, positive, negative), index=values.index,
                       columns=values.columns)
    out.loc[:, constant[constant].index] = 1.0
    info = pd.DataFrame({"min": low, "max": high, "constant": constant})
    return out, info
