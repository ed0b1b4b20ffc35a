#!/bin/sh
# Install the ossmedia camera agent from this bundle, offline.
#
#   sh install.sh [--prefix DIR] [--data DIR] [--config-dir DIR] [--python PYTHON]
#
# Writes only under the prefix (default /opt/ossmedia: a venv per release with the agent's
# launcher, byte code and service files), the data partition (default /var/lib/ossmedia:
# the spool) and the configuration directory (default /etc/ossmedia: camera.toml, mode
# 0600, only when it does not exist).
# The root file system may be read-only. Every check runs before anything is written; a
# failure after that removes the half-made release, so the installed one stays in force.
# Running it again upgrades in place: a new release, the same configuration and spool.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=/opt/ossmedia
DATA=/var/lib/ossmedia
CONF=/etc/ossmedia
PYTHON=/usr/bin/python3

usage() {
  sed -n '2,12s/^# \{0,1\}//p' "$0"
}

die() {
  echo "install.sh: $*" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
    --data) DATA=${2:?--data needs a directory}; shift 2 ;;
    --config-dir) CONF=${2:?--config-dir needs a directory}; shift 2 ;;
    --python) PYTHON=${2:?--python needs an interpreter}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
for dir in "$PREFIX" "$DATA" "$CONF"; do
  case "$dir" in
    /*) ;;
    *) die "paths must be absolute: $dir" ;;
  esac
  case "$dir" in
    *[!A-Za-z0-9/._+-]*) die "paths may hold only letters, digits and / . _ + -: $dir" ;;
  esac
done
# The agent's byte-code cache is found by its sources' paths: no trailing slash.
PREFIX=${PREFIX%/}

# shellcheck source=/dev/null
. "$HERE/bundle.env"   # BUNDLE_VERSION BUNDLE_TARGET BUNDLE_MACHINES BUNDLE_PYTHON PIP_WHEEL

# -- checks (nothing is written before they all pass) ----------------------------------

[ -x "$PYTHON" ] || command -v "$PYTHON" >/dev/null 2>&1 ||
  die "no Python interpreter at $PYTHON (this bundle needs CPython $BUNDLE_PYTHON; --python PATH)"
facts=$("$PYTHON" -c 'import platform, sys; print(platform.machine(), "%d.%d" % sys.version_info[:2])') ||
  die "$PYTHON does not run"
machine=${facts% *}
version=${facts#* }

case " $BUNDLE_MACHINES " in
  *" $machine "*) ;;
  *) die "this bundle is for $BUNDLE_TARGET; this machine is $machine. Build the bundle for its target (ossmedia bundle --target ...)." ;;
esac
if [ "$version" != "$BUNDLE_PYTHON" ]; then
  older=$("$PYTHON" -c "import sys; print(int(sys.version_info[:2] < tuple(map(int, '$BUNDLE_PYTHON'.split('.')))))")
  if [ "$older" = 1 ]; then
    die "this bundle needs Python $BUNDLE_PYTHON; $PYTHON is Python $version, which is older. Build the bundle with --python $version."
  fi
  die "this bundle's compiled wheels are for Python $BUNDLE_PYTHON; $PYTHON is Python $version. Build the bundle with --python $version."
fi

writable_dir() {  # an existing directory we can create files in
  [ -d "$1" ] || return 1
  probe="$1/.ossmedia-install-probe.$$"
  (: > "$probe") 2>/dev/null || return 1
  rm -f "$probe"
}

writable_dir "$DATA" ||
  die "the data partition $DATA is missing or not writable (the spool lives there; --data DIR)"
if [ -d "$PREFIX" ]; then
  writable_dir "$PREFIX" || die "the prefix $PREFIX is not writable (--prefix DIR)"
else
  writable_dir "$(dirname "$PREFIX")" ||
    die "cannot create the prefix $PREFIX: $(dirname "$PREFIX") is not writable (--prefix DIR)"
fi
if [ ! -f "$CONF/camera.toml" ]; then
  if [ -d "$CONF" ]; then
    writable_dir "$CONF" || die "$CONF is not writable and holds no camera.toml (--config-dir DIR)"
  else
    writable_dir "$(dirname "$CONF")" ||
      die "cannot create $CONF for camera.toml: $(dirname "$CONF") is not writable (--config-dir DIR)"
  fi
fi

"$PYTHON" - "$HERE" <<'PY' || die "the bundle is damaged (a file differs from MANIFEST.json)"
import hashlib, json, pathlib, sys
root = pathlib.Path(sys.argv[1])
manifest = json.loads((root / "MANIFEST.json").read_text())
bad = [name for name, digest in manifest["files"].items()
       if hashlib.sha256((root / name).read_bytes()).hexdigest() != digest]
for name in bad:
    print(f"install.sh: {name} does not match the manifest", file=sys.stderr)
sys.exit(1 if bad else 0)
PY

# -- install a new release beside the current one ---------------------------------------

umask 022
mkdir -p "$PREFIX/releases"
RELEASE="$PREFIX/releases/$BUNDLE_VERSION-$(date +%Y%m%d%H%M%S)-$$"
cleanup() {
  status=$?
  if [ "$status" != 0 ]; then
    rm -rf "$RELEASE" "$PREFIX/current.new.$$"
    rmdir "$PREFIX/releases" "$PREFIX" 2>/dev/null || true  # only if this run made them
    echo "install.sh: installation failed; nothing was changed" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$PYTHON" -m venv --without-pip "$RELEASE" || die "$PYTHON cannot create a venv (is its venv module installed?)"
SITE="$RELEASE/lib/python$BUNDLE_PYTHON/site-packages"
mkdir -p "$RELEASE/.tmp"
# pip from the bundle installs into the venv's site-packages with the system interpreter,
# from the bundled wheels only; no index, no cache, no configuration of this machine.
TMPDIR="$RELEASE/.tmp" PIP_CONFIG_FILE=/dev/null PYTHONNOUSERSITE=1 \
  "$PYTHON" "$HERE/wheels/$PIP_WHEEL/pip" install --quiet --no-index --find-links "$HERE/wheels" \
    --no-cache-dir --no-compile --disable-pip-version-check --no-warn-script-location \
    --root-user-action=ignore \
    --target "$SITE" "ossmedia==$BUNDLE_VERSION" ||
  die "pip could not install the bundled wheels"
rm -rf "$RELEASE/.tmp" "$SITE/bin"
cp "$HERE/MANIFEST.json" "$RELEASE/MANIFEST.json"
mkdir -p "$RELEASE/share"
for file in ossmedia-camera.service ossmedia-camera.init; do
  sed -e "s#@PREFIX@#$PREFIX#g" -e "s#@DATA@#$DATA#g" -e "s#@CONF@#$CONF#g" \
    "$HERE/share/$file" > "$RELEASE/share/$file"
done
chmod 755 "$RELEASE/share/ossmedia-camera.init"
# The agent runs with -OO (no docstrings or asserts in its byte code: about 1.5 MB less
# resident memory) from byte code compiled now into the release's own cache: a read-only
# root holds no -OO byte code of the standard library and could not store it. Every module
# of the venv is compiled, and the standard library modules the agent imports (a module
# missing from the cache still runs, compiled in memory at each start).
CACHE="$RELEASE/pycache"
AGENT_FLAGS="-OO -X pycache_prefix=$CACHE"
# shellcheck disable=SC2086 # AGENT_FLAGS is split on purpose (no spaces in $RELEASE)
PYTHONDONTWRITEBYTECODE='' "$PYTHON" $AGENT_FLAGS -m compileall -q "$SITE" >/dev/null ||
  die "the installed agent's byte code could not be compiled"
# shellcheck disable=SC2086
PYTHONDONTWRITEBYTECODE='' "$PYTHON" $AGENT_FLAGS -c '
import sys
sys.path.insert(0, sys.argv[1])
import device.agent.cli, device.agent.hls_mode, device.osshttp, encodings.idna
' "$SITE" || die "the installed agent does not import"
cat > "$RELEASE/bin/ossmedia-camera" <<LAUNCHER
#!/bin/sh
# The camera agent as its service runs it (written by install.sh; arguments as for
# 'ossmedia camera', e.g. --config $CONF/camera.toml).
exec $RELEASE/bin/python $AGENT_FLAGS -m ossmedia_cli camera "\$@"
LAUNCHER
chmod 755 "$RELEASE/bin/ossmedia-camera"

# -- switch over: configuration, spool, then the 'current' link ------------------------

mkdir -p "$DATA/spool"
if [ ! -f "$CONF/camera.toml" ]; then
  mkdir -p "$CONF"
  (umask 077 && sed -e "s#@DATA@#$DATA#g" "$HERE/share/camera.toml" > "$CONF/camera.toml.new.$$" &&
    mv "$CONF/camera.toml.new.$$" "$CONF/camera.toml")
  echo "install.sh: wrote $CONF/camera.toml (0600): set device_id, secret and [broker] url"
fi
previous=$(readlink "$PREFIX/current" 2>/dev/null || true)
ln -s "releases/$(basename "$RELEASE")" "$PREFIX/current.new.$$"
mv -T "$PREFIX/current.new.$$" "$PREFIX/current" 2>/dev/null || {
  rm -f "$PREFIX/current"  # BusyBox mv has no -T
  mv "$PREFIX/current.new.$$" "$PREFIX/current"
}
# Keep the release just replaced (a running agent may still load modules from it, and it
# is the way back); older ones go.
for old in "$PREFIX"/releases/*; do
  case "$old" in
    "$RELEASE"|"$PREFIX/$previous") ;;
    *) rm -rf "$old" ;;
  esac
done
trap - EXIT
echo "install.sh: ossmedia $BUNDLE_VERSION ($BUNDLE_TARGET) installed in $PREFIX/current"
echo "  systemd:  systemctl link $PREFIX/current/share/ossmedia-camera.service && systemctl enable --now ossmedia-camera"
echo "  SysV:     ln -s $PREFIX/current/share/ossmedia-camera.init /etc/init.d/ossmedia-camera"
