"""Module doc."""
import os
import os.path as osp, sys
from .util import helper as h, other
from . import sibling
from ..pkg.mod import thing
from collections import *

MAX_SIZE = 10
lower = 3


@decorator
def top(a, b=1) -> int:
    """Top does things.

    More detail.
    """
    return os.getcwd() + h.x + self.y


class Store(Base):
    """A store."""

    LIMIT = 5

    async def fetch(self, key):
        return sys.exit(osp.join(key))

    class Inner:
        def deep(self):
            pass
