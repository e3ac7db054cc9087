"""Public models, importable as ``classify_shim.models`` (like ``twelvelabs.models``)."""

from ._models import (
    ClassifyClass,
    ClassifyClassParams,
    ClassifyClip,
    ClassifyDetailedScore,
    ClassifyPageResult,
    ClassifyVideoData,
    RootModelList,
    TokenPageInfo,
)

__all__ = [
    "ClassifyClass",
    "ClassifyClassParams",
    "ClassifyClip",
    "ClassifyDetailedScore",
    "ClassifyPageResult",
    "ClassifyVideoData",
    "RootModelList",
    "TokenPageInfo",
]
