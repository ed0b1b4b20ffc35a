#!/usr/bin/env bash
# Re-create the console's vendored hls.js from the npm registry and check it against the lock.
#
#   bash scripts/vendor-hlsjs.sh            # fetch the locked version, verify, copy
#   bash scripts/vendor-hlsjs.sh --check    # fetch and verify only; the repo is left as it is
#
# The lock (cloud/console/web/static/vendor/hls.js.lock.json) pins the version, the npm
# tarball's integrity (sha512) and the sha256 of every file taken from it. To move to another
# version, edit "version" and "tarball_integrity" (from `npm view hls.js@X dist.integrity`),
# run this script, then update the sha256 values it reports. The console never loads hls.js
# from anywhere but its own /static path.
set -euo pipefail
cd "$(dirname "$0")/.."
VENDOR=cloud/console/web/static/vendor
LOCK=$VENDOR/hls.js.lock.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version=$(.venv/bin/python -c "import json,sys; print(json.load(open(sys.argv[1]))['version'])" "$LOCK")
(cd "$work" && npm pack --silent "hls.js@$version" >/dev/null)
tarball="$work/hls.js-$version.tgz"
.venv/bin/python - "$LOCK" "$tarball" "$work" "$VENDOR" "${1:-}" <<'PY'
import base64, hashlib, json, shutil, sys, tarfile
from pathlib import Path

lock_path, tarball, work, vendor, mode = sys.argv[1:6]
lock = json.loads(Path(lock_path).read_text())
data = Path(tarball).read_bytes()
integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
if integrity != lock["tarball_integrity"]:
    sys.exit(f"tarball integrity {integrity} differs from the lock")
with tarfile.open(tarball) as archive:
    archive.extractall(work, filter="data")
bad = False
for name, entry in lock["files"].items():
    source = Path(work) / entry["from"]
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    if digest != entry["sha256"]:
        print(f"{name}: sha256 {digest} differs from the lock")
        bad = True
    elif mode != "--check":
        shutil.copyfile(source, Path(vendor) / name)
    print(f"{name}: {digest}")
sys.exit(1 if bad else 0)
PY
