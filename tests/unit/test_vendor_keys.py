"""The vendor key checks, run for real: keys made with gpg, packed into a .deb with dpkg-deb."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from glmstack.vendor_keys import deb_keys_check, rpm_key_import, rpm_key_import_by_sum

pytestmark = pytest.mark.skipif(not (shutil.which("gpg") and shutil.which("dpkg-deb")),
                                reason="needs gpg and dpkg-deb")


def make_key(home, name: str) -> tuple[bytes, str]:
    """A new signing key: its binary public key and its fingerprint."""
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", f"{name} <{name}@example.com>",
                    "ed25519", "sign", "never"], env=env, check=True, capture_output=True)
    listing = subprocess.run(["gpg", "--batch", "--with-colons", "--list-keys", name], env=env, check=True,
                             capture_output=True, text=True).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))
    public = subprocess.run(["gpg", "--batch", "--export", name], env=env, check=True, capture_output=True).stdout
    return public, fingerprint


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    yield {"vendor": make_key(home, "vendor"), "stranger": make_key(home, "stranger")}
    # gpg started an agent for this home: stop it, not to leave a daemon behind the test run.
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, capture_output=True)


def keyring_deb(tmp_path, key: bytes) -> str:
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text("Package: vendor-keyring\nVersion: 1.0\nArchitecture: all\n"
                                             "Maintainer: x <x@example.com>\nDescription: key\n")
    (root / "usr/share/keyrings").mkdir(parents=True)
    (root / "usr/share/keyrings/vendor-archive-keyring.gpg").write_bytes(key)
    deb = tmp_path / "vendor-keyring.deb"
    subprocess.run(["dpkg-deb", "--build", str(root), str(deb)], check=True, capture_output=True)
    return str(deb)


def run(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"set -e; {script}; echo checked"], capture_output=True, text=True)


def test_a_package_with_the_vendors_key_passes(tmp_path, keys):
    deb = keyring_deb(tmp_path, keys["vendor"][0])
    result = run(deb_keys_check(deb, keys["vendor"][1], "Vendor"))
    assert result.returncode == 0 and "checked" in result.stdout, result.stderr


def test_a_package_with_another_key_is_stopped_before_it_is_installed(tmp_path, keys):
    deb = keyring_deb(tmp_path, keys["stranger"][0])
    result = run(deb_keys_check(deb, keys["vendor"][1], "Vendor"))
    assert result.returncode == 1 and "checked" not in result.stdout
    assert f"Vendor's package {deb} ships a key that is not Vendor's {keys['vendor'][1]}" in result.stderr


def test_a_package_without_any_key_is_stopped(tmp_path, keys):
    deb = keyring_deb(tmp_path, b"")
    os.remove(tmp_path / "pkg/usr/share/keyrings/vendor-archive-keyring.gpg")
    subprocess.run(["dpkg-deb", "--build", str(tmp_path / "pkg"), deb], check=True, capture_output=True)
    assert run(deb_keys_check(deb, keys["vendor"][1], "Vendor")).returncode != 0


def test_a_key_text_with_another_sum_is_not_imported(tmp_path):
    key = tmp_path / "KEY.pub"
    key.write_text("Version: GnuPG\n-----BEGIN PGP PUBLIC KEY BLOCK-----\nabc\n")
    dest = tmp_path / "RPM-GPG-KEY-VENDOR"
    result = run(rpm_key_import_by_sum(f"file://{key}", "0" * 64, str(dest), "Vendor"))
    assert result.returncode == 1 and "does not have Vendor's published sha256" in result.stderr
    assert not dest.exists() and not (tmp_path / "RPM-GPG-KEY-VENDOR.new").exists()


def test_a_repository_key_with_another_fingerprint_is_not_imported(tmp_path, keys):
    key = tmp_path / "rocm.gpg.key"
    key.write_bytes(keys["stranger"][0])
    dest = tmp_path / "RPM-GPG-KEY-VENDOR"
    result = run(rpm_key_import(f"file://{key}", keys["vendor"][1], str(dest), "Vendor"))
    assert result.returncode == 1 and f"is not Vendor's {keys['vendor'][1]}; not imported" in result.stderr
    assert not dest.exists() and not (tmp_path / "RPM-GPG-KEY-VENDOR.new").exists()
