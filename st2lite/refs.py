"""References: ``pack.name`` strings that name content (actions, rules, trigger types)."""

from __future__ import annotations

import re

from st2lite.exceptions import ContentError

__all__ = ["PACK_NAME", "join_ref", "split_ref"]

#: What a pack name may look like (StackStorm's ``ref`` rule).
PACK_NAME = re.compile(r"^[a-z0-9_]+$")


def split_ref(ref: str) -> tuple[str, str]:
    """Split ``pack.name`` at the first dot; the name itself may contain dots (``core.st2.webhook``)."""
    pack, dot, name = ref.partition(".")
    if not dot or not pack or not name:
        raise ContentError(f"'{ref}' is not a reference; write it as <pack>.<name>, for example core.local")
    return pack, name


def join_ref(pack: str, name: str) -> str:
    """Build ``pack.name``."""
    return f"{pack}.{name}"
