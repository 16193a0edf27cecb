"""Vendor signing keys checked against their published fingerprints before anything trusts them.

NVIDIA's keyring package and AMD's installer package are fetched over HTTPS and enroll the key
the repositories are signed with. Their bytes change between releases and cannot be pinned from
here, so the key inside each package is checked against the vendor's fingerprint (from the
catalog) before the package is installed, and an RPM's own signature is checked with that key.
"""

from __future__ import annotations

import shlex

# Also a Debian minbase has only gpgv, which cannot show a key's fingerprint.
GPG_PACKAGE = "gnupg"


def _fingerprints_of(path: str) -> str:
    """Shell: the fingerprints of the keys in a key file, one per line (a throwaway GnuPG home)."""
    return (f'GNUPGHOME="$(mktemp -d)" gpg --batch --show-keys --with-colons {path} 2>/dev/null '
            "| awk -F: '$1 == \"fpr\" { print $10 }'")


def deb_keys_check(deb: str, fingerprint: str, vendor: str) -> str:
    """Shell: unpack the package aside and require every key file in it to be the vendor's key;
    otherwise stop before the package (and its install scripts) runs."""
    q = shlex.quote
    fail = f"{vendor}'s package {deb} ships a key that is not {vendor}'s {fingerprint}; not installed"
    none = f"{vendor}'s package {deb} ships no key; not installed"
    return (f'keys_dir="$(mktemp -d)"; dpkg-deb -x {q(deb)} "$keys_dir" || exit 1; '
            f'keys=$(find "$keys_dir" -type f \\( -name "*.gpg" -o -name "*.asc" -o -name "*.key" \\)); '
            f'[ -n "$keys" ] || {{ echo {q(none)} >&2; rm -rf "$keys_dir"; exit 1; }}; '
            f'for key in $keys; do {_fingerprints_of(chr(34) + "$key" + chr(34))} | grep -qx {q(fingerprint)} || '
            f'{{ echo {q(fail)} >&2; rm -rf "$keys_dir"; exit 1; }}; done; rm -rf "$keys_dir"')


def rpm_key_import(url: str, fingerprint: str, dest: str, vendor: str) -> str:
    """Shell: fetch a repository key, require the vendor's fingerprint, and import it into rpm."""
    q = shlex.quote
    fail = f"the key at {url} is not {vendor}'s {fingerprint}; not imported"
    return (f"curl -fsSL --retry 3 -o {q(dest)}.new {q(url)} && "
            f"{{ {_fingerprints_of(q(dest) + '.new')} | grep -qx {q(fingerprint)} || "
            f"{{ echo {q(fail)} >&2; rm -f {q(dest)}.new; exit 1; }}; }} && "
            f"mv {q(dest)}.new {q(dest)} && rpm --import {q(dest)}")


def rpm_signature_check(rpm: str, vendor: str) -> str:
    """Shell: the package's signature checks out against the keys rpm trusts."""
    fail = f"{rpm} is not signed by a key rpm trusts ({vendor}'s was imported); not installed"
    return f"rpm -K {shlex.quote(rpm)} | grep -q 'signatures OK' || {{ echo {shlex.quote(fail)} >&2; exit 1; }}"


def rpm_key_import_by_sum(url: str, sha256: str, dest: str, vendor: str) -> str:
    """Shell: fetch a repository key whose text the vendor publishes a sum of (without its Version
    line), require that sum, and import it into rpm."""
    q = shlex.quote
    fail = f"the key at {url} does not have {vendor}'s published sha256 {sha256}; not imported"
    return (f"curl -fsSL --retry 3 {q(url)} | sed '/^Version/d' > {q(dest)}.new && "
            f"{{ echo {q(sha256 + '  ' + dest + '.new')} | sha256sum -c --strict --status - || "
            f"{{ echo {q(fail)} >&2; rm -f {q(dest)}.new; exit 1; }}; }} && "
            f"mv {q(dest)}.new {q(dest)} && rpm --import {q(dest)}")
