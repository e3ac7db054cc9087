from .classify import AsyncClassify, Classify

__all__ = ["AsyncClassify", "Classify"]
