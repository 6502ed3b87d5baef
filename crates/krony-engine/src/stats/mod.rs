//! Per-source sample statistics: the median filter and the weighted regression.
