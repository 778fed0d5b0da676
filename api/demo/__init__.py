"""``gaung demo``: Gaung's whole story on one laptop, in a world of its own."""

from api.demo.serve import DemoFailed
from api.demo.story import Options, Story

__all__ = ["DemoFailed", "Options", "Story"]
