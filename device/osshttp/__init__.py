"""A small OSS client on the standard library, for cameras short of memory.

:class:`HttpObjectStore` implements :class:`device.store.ObjectStore` with ``http.client``
(keep-alive connections, timeouts, a fresh connection when the store dropped an idle one)
and OSS signature V1; it raises the same ``device`` exceptions as the oss2 client for the
same answers. Modules: :mod:`.signing` (string to sign, signer), :mod:`.addressing`
(path-style or virtual-host), :mod:`.connection` (connection reuse), :mod:`.errors` (answers
and transport failures as ``device`` exceptions), :mod:`.client` (the store).

Importing this package never imports oss2.
"""

from device.osshttp.client import HttpObjectStore
from device.osshttp.signing import AccessKeys, RequestSigner

__all__ = ["AccessKeys", "HttpObjectStore", "RequestSigner"]
