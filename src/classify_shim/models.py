"""Public models, importable as ``classify_shim.models`` (like ``twelvelabs.models``)."""

from ._models import (
    AsyncClassifyPageResult,
    ClassifyClass,
    ClassifyClassParams,
    ClassifyClip,
    ClassifyDetailedScore,
    ClassifyPageResult,
    ClassifyVideoData,
    RootModelList,
    TokenPageInfo,
)

ClassifyResult = ClassifyPageResult
"""0.1.24-0.1.25 returned ``ClassifyResult`` (``data`` only) from ``classify.videos``; the page
result has the same ``data`` plus ``page_info``, so code naming the old class keeps working."""

__all__ = [
    "AsyncClassifyPageResult",
    "ClassifyClass",
    "ClassifyClassParams",
    "ClassifyClip",
    "ClassifyDetailedScore",
    "ClassifyPageResult",
    "ClassifyResult",
    "ClassifyVideoData",
    "RootModelList",
    "TokenPageInfo",
]
