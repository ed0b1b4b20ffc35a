"""Emulated camera boards: ARM root file systems under qemu-user, and offline installs.

:mod:`.rootfs` builds (once, cached outside the checkout) Debian root file systems whose
``python3`` runs here through ``qemu-<arch>-static -L ROOT``; :mod:`.install` runs a camera
bundle's ``install.sh`` offline on a read-only root. The bundle tests and
``ossmedia bench camera`` both use them.
"""

from __future__ import annotations

from simulator.boards.install import Layout, install, tree, unpack
from simulator.boards.rootfs import ARCHES, Arch, emulated_python, ensure_rootfs

__all__ = [
    "ARCHES",
    "Arch",
    "Layout",
    "emulated_python",
    "ensure_rootfs",
    "install",
    "tree",
    "unpack",
]
