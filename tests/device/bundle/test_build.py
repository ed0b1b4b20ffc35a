"""``ossmedia bundle``: what goes into an archive, its manifest and its size report."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from device.bundle import (
    LEFT_OUT,
    BundleError,
    BundleSpec,
    build_bundle,
    camera_requirements,
    camera_toml_template,
    target,
)
from tests.device.bundle.conftest import REPO, Bundles


@pytest.mark.parametrize("name", ["linux-aarch64", "linux-armv7l", "linux-x86_64"])
def test_archive_matches_its_manifest(bundles: Bundles, name: str) -> None:
    bundle = bundles.get(name)
    machine = name.split("-", 1)[1]
    assert bundle.archive.name == f"ossmedia-camera-0.1.0-{name}-cp311.tar.gz"
    with tarfile.open(bundle.archive) as tar:
        members = {m.name.split("/", 1)[1]: m for m in tar.getmembers() if m.isfile()}
        contents = {
            path: tar.extractfile(member).read()  # type: ignore[union-attr]
            for path, member in members.items()
        }
    manifest = json.loads(contents["MANIFEST.json"])
    assert manifest == bundle.manifest
    assert manifest["target"] == name
    assert manifest["python"] == "3.11"
    # Every file but the manifest and the report is listed, with its SHA-256.
    assert set(manifest["files"]) == set(contents) - {"MANIFEST.json", "SIZES.txt"}
    for path, digest in manifest["files"].items():
        assert hashlib.sha256(contents[path]).hexdigest() == digest
    assert members["install.sh"].mode & 0o111
    # Only pure wheels and wheels for this machine; none of what a camera does without.
    names = {w["name"].lower() for w in manifest["wheels"]}
    assert {"ossmedia", "pip", "pydantic_core", "paho_mqtt", "tenacity"} <= names
    assert not names & {"oss2", "cryptography", "crcmod", "requests"}
    for wheel in manifest["wheels"]:
        assert wheel["file"].endswith("-none-any.whl") or machine in wheel["file"], wheel
    assert "bundle.env" in contents
    env = contents["bundle.env"].decode()
    assert "BUNDLE_PYTHON=3.11\n" in env
    assert f"BUNDLE_TARGET={name}\n" in env
    report = contents["SIZES.txt"].decode()
    assert report == bundle.size_report
    assert "pydantic_core" in report
    assert "left out: cryptography, oss2" in report


def test_camera_wheel_holds_the_device_side_only(bundles: Bundles) -> None:
    bundle = bundles.get("linux-x86_64")
    with tarfile.open(bundle.archive) as tar:
        member = next(
            m for m in tar.getmembers() if m.name.endswith("ossmedia-0.1.0-py3-none-any.whl")
        )
        data = tar.extractfile(member).read()  # type: ignore[union-attr]
    wheel_path = bundle.archive.parent / "camera.whl"
    wheel_path.write_bytes(data)
    with zipfile.ZipFile(wheel_path) as wheel:
        names = wheel.namelist()
        metadata = wheel.read("ossmedia-0.1.0.dist-info/METADATA").decode()
        record = wheel.read("ossmedia-0.1.0.dist-info/RECORD").decode()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"device", "schemas", "ossmedia_cli.py", "ossmedia-0.1.0.dist-info"}
    assert "device/bundle/files/install.sh" in names
    requires = sorted(line.split(": ", 1)[1] for line in metadata.splitlines()
                      if line.startswith("Requires-Dist: "))  # fmt: skip
    assert requires == sorted(camera_requirements(REPO))
    assert all(name + "," in record for name in names if not name.endswith("RECORD"))


def test_camera_requirements_leave_out_oss2_and_cryptography() -> None:
    requirements = camera_requirements(REPO)
    assert not any(r.startswith(("oss2", "cryptography")) for r in requirements)
    assert any(r.startswith("pydantic") for r in requirements)
    assert set(LEFT_OUT) == {"oss2", "cryptography"}


def test_configuration_template_uses_the_stdlib_client_on_the_data_partition() -> None:
    text = camera_toml_template()
    assert 'client = "http"' in text
    assert 'dir = "@DATA@/spool"' in text
    assert "must_exist = true" in text  # an unmounted data partition is not spooled around
    assert "/var/lib/ossmedia" not in text


def test_sdist_only_dependency_is_built_here_when_pure_and_refused_when_compiled(
    tmp_path: Path,
) -> None:
    # oss2 ships only an sdist of pure Python: it becomes a py3-none-any wheel.
    spec = BundleSpec(target("linux-armv7l"), "3.11", REPO, tmp_path / "pure", ("oss2",))
    bundle = build_bundle(spec)
    assert "wheels/oss2-2.19.1-py3-none-any.whl" in bundle.manifest["files"]
    # crcmod's sdist compiles a C extension here: no bundle for ARM can carry that.
    spec = BundleSpec(target("linux-armv7l"), "3.11", REPO, tmp_path / "c", ("crcmod",))
    with pytest.raises(BundleError, match="crcmod builds a compiled wheel"):
        build_bundle(spec)


def test_command_line_refuses_bad_arguments(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "ossmedia_cli", "bundle", "--python", "3.9",
         "--target", "linux-x86_64", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO,
    )  # fmt: skip
    assert run.returncode == 2
    assert "ossmedia bundle: linux-x86_64: --python wants a CPython version" in run.stderr
    unknown = subprocess.run(
        [sys.executable, "-m", "ossmedia_cli", "bundle", "--target", "linux-mips"],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO,
    )  # fmt: skip
    assert unknown.returncode == 2
    assert "invalid choice: 'linux-mips'" in unknown.stderr
