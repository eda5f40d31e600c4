"""IPsec transforms (docs/SPEC.md 2) and policy actions: PASS, DISCARD or a list.

A transform is ``NAME[/lifetime_seconds[/lifetime_kbytes]]`` with NAME one of ``AH_<auth>``,
``ESP_<enc>_HMAC_<auth>``, ``ESP_<enc>`` or the nested ``AH_<auth>+ESP_<...>``, optionally
followed by ``_PFS_<group>`` (a Diffie-Hellman group for perfect forward secrecy: part of the
proposal, so both sides must name the same group, RFC 2409 5.5).

The guide names the encryptions NULL, DES, 3DES, AES128/192/256 and the authentications MD5,
SHA1, SHA2_256/384/512. Real configurations (strongSwan's proposal keywords, docs "IKEv2
Cipher Suites") use more: counter mode (AES128CTR), Camellia, CAST128, Blowfish, Serpent,
Twofish; the AES-XCBC and AES-CMAC MACs and truncation variants of HMACs; and combined-mode
(AEAD) ciphers that authenticate by themselves, so they take no ``_HMAC_`` part: AES-GCM and
AES-CCM with an 8, 12 or 16 octet ICV (AES128GCM16), AES-GMAC (authentication only) and
ChaCha20-Poly1305.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from qmcheck.model.values.errors import InputError
from qmcheck.model.values.numbers import is_ascii_int, shown

GUIDE_ENCRYPTIONS: tuple[str, ...] = ("NULL", "DES", "3DES", "AES128", "AES192", "AES256")
GUIDE_AUTHENTICATIONS: tuple[str, ...] = ("MD5", "SHA1", "SHA2_256", "SHA2_384", "SHA2_512")
AES_SIZES = ("128", "192", "256")
ENCRYPTIONS: tuple[str, ...] = GUIDE_ENCRYPTIONS + tuple(
    [f"AES{k}CTR" for k in AES_SIZES] + [f"CAMELLIA{k}" for k in AES_SIZES]
    + [f"CAMELLIA{k}CTR" for k in AES_SIZES] + ["CAST128"]
    + [f"BLOWFISH{k}" for k in AES_SIZES] + [f"SERPENT{k}" for k in AES_SIZES]
    + [f"TWOFISH{k}" for k in AES_SIZES])
#: combined-mode ciphers: encryption and integrity in one (no _HMAC_ part)
AEADS: tuple[str, ...] = tuple(
    [f"AES{k}{mode}{icv}" for k in AES_SIZES for mode in ("GCM", "CCM") for icv in (8, 12, 16)]
    + [f"AES{k}GMAC" for k in AES_SIZES] + ["CHACHA20POLY1305"])
#: MD5_128, SHA1_160 and SHA2_256_96 are the truncation variants strongSwan names md5_128,
#: sha1_160 and sha256_96 (proposal_keywords_static.txt: AUTH_HMAC_MD5_128 ...): other
#: transforms than MD5 (96 bits), SHA1 (96) and SHA2_256 (128)
AUTHENTICATIONS: tuple[str, ...] = (*GUIDE_AUTHENTICATIONS, "AESXCBC", "AESCMAC", "MD5_128",
                                    "SHA1_160", "SHA2_256_96")
DH_GROUPS: tuple[str, ...] = (
    "MODP768", "MODP1024", "MODP1536", "MODP2048", "MODP3072", "MODP4096", "MODP6144",
    "MODP8192", "MODP1024S160", "MODP2048S224", "MODP2048S256", "ECP192", "ECP224", "ECP256",
    "ECP384", "ECP521", "ECP224BP", "ECP256BP", "ECP384BP", "ECP512BP", "CURVE25519",
    "CURVE448")

MAX_AH = 2
MAX_ESP = 25
DEFAULT_LIFETIME_SECONDS = 28800
DEFAULT_LIFETIME_KBYTES = 0
MAX_LIFETIME = 4294967294
MIN_LIFETIME_SECONDS = 600
MIN_LIFETIME_KBYTES = 5120

TransformKind = Literal["AH", "ESP", "AH+ESP"]


def _all_names() -> list[str]:
    names = [f"AH_{a}" for a in AUTHENTICATIONS]
    esp = [f"ESP_{e}_HMAC_{a}" for e in ENCRYPTIONS for a in AUTHENTICATIONS]
    esp += [f"ESP_{e}" for e in ENCRYPTIONS + AEADS if e != "NULL"]
    names += esp
    names += [f"AH_{a}+{e}" for a in AUTHENTICATIONS for e in esp]
    return names


KNOWN_NAMES: tuple[str, ...] = tuple(_all_names())


@dataclass(frozen=True, slots=True)
class Transform:
    """One transform with its lifetimes. ``algorithms`` is what two peers must share."""

    kind: TransformKind
    ah_auth: str | None = None
    esp_enc: str | None = None
    esp_auth: str | None = None
    lifetime_seconds: int = DEFAULT_LIFETIME_SECONDS
    lifetime_kbytes: int = DEFAULT_LIFETIME_KBYTES
    dh_group: str | None = None  # PFS group, part of the proposal

    @property
    def name(self) -> str:
        parts: list[str] = []
        if self.ah_auth is not None:
            parts.append(f"AH_{self.ah_auth}")
        if self.esp_enc is not None:
            esp = f"ESP_{self.esp_enc}"
            if self.esp_auth is not None:
                esp += f"_HMAC_{self.esp_auth}"
            parts.append(esp)
        pfs = f"_PFS_{self.dh_group}" if self.dh_group else ""
        return "+".join(parts) + pfs

    @property
    def algorithms(self) -> tuple[str, str | None, str | None, str | None, str | None]:
        """The negotiated part of a transform (lifetimes are not part of the match; the PFS
        group is: a responder whose proposal has another group, or none, rejects it)."""
        return (self.kind, self.ah_auth, self.esp_enc, self.esp_auth, self.dh_group)

    def __str__(self) -> str:
        text = self.name
        if (self.lifetime_seconds, self.lifetime_kbytes) != (
            DEFAULT_LIFETIME_SECONDS, DEFAULT_LIFETIME_KBYTES
        ):
            text += f"/{self.lifetime_seconds}"
            if self.lifetime_kbytes != DEFAULT_LIFETIME_KBYTES:
                text += f"/{self.lifetime_kbytes}"
        return text


def _parse_esp(text: str, whole: str) -> tuple[str, str | None]:
    body = text[len("ESP_"):]
    enc, sep, auth = body.partition("_HMAC_")
    if enc in AEADS:
        if sep:
            raise InputError(f"transform '{whole}': {enc} is a combined-mode cipher that "
                             "authenticates by itself; it takes no _HMAC_ part")
        return enc, None
    if enc not in ENCRYPTIONS:
        raise _unknown(whole)
    if sep:
        if auth not in AUTHENTICATIONS:
            raise _unknown(whole)
        return enc, auth
    if enc == "NULL":
        raise InputError(f"transform '{whole}': ESP_NULL needs an HMAC (ESP_NULL_HMAC_<auth>)")
    return enc, None


def _unknown(whole: str) -> InputError:
    name = whole.split("/")[0]
    close = difflib.get_close_matches(name.upper(), KNOWN_NAMES, n=1, cutoff=0.75)
    hint = f"; did you mean '{close[0]}'?" if close else (
        "; known forms: AH_<auth>, ESP_<enc>_HMAC_<auth>, ESP_<enc>, AH_<auth>+ESP_<...> "
        f"with enc in {', '.join(ENCRYPTIONS)} and auth in {', '.join(AUTHENTICATIONS)}"
    )
    return InputError(f"unknown transform '{name}'{hint}")


def _lifetime(text: str, whole: str, what: str, minimum: int) -> int:
    if not is_ascii_int(text):
        raise InputError(f"transform '{shown(whole)}': lifetime {what} '{shown(text)}' is not a "
                         "number")
    value = int(text)
    if value != 0 and not minimum <= value <= MAX_LIFETIME:
        raise InputError(
            f"transform '{whole}': lifetime {value} {what} is out of range "
            f"(0 for infinite, or {minimum}..{MAX_LIFETIME})"
        )
    return value


def parse_transform(text: str) -> Transform:
    """Parse one transform with optional lifetimes, e.g. ``ESP_AES128_HMAC_SHA1/3600``."""
    whole = text.strip()
    name, *lifetimes = whole.split("/")
    if len(lifetimes) > 2:
        raise InputError(f"transform '{whole}': at most two lifetimes (seconds, kilobytes)")
    name = name.upper()
    seconds = (
        _lifetime(lifetimes[0], whole, "seconds", MIN_LIFETIME_SECONDS)
        if lifetimes else DEFAULT_LIFETIME_SECONDS
    )
    kbytes = (
        _lifetime(lifetimes[1], whole, "kbytes", MIN_LIFETIME_KBYTES)
        if len(lifetimes) > 1 else DEFAULT_LIFETIME_KBYTES
    )
    name, pfs, group = name.partition("_PFS_")
    if pfs and group not in DH_GROUPS:
        raise InputError(f"transform '{whole}': unknown PFS group '{group}' (known: "
                         f"{', '.join(DH_GROUPS)})")
    dh = group if pfs else None
    ah_part, plus, esp_part = name.partition("+")
    if plus:
        if not ah_part.startswith("AH_") or not esp_part.startswith("ESP_"):
            raise InputError(f"transform '{whole}': a nested transform is AH_<auth>+ESP_<...>")
        ah_auth = ah_part[3:]
        if ah_auth not in AUTHENTICATIONS:
            raise _unknown(whole)
        enc, auth = _parse_esp(esp_part, whole)
        return Transform("AH+ESP", ah_auth, enc, auth, seconds, kbytes, dh)
    if name.startswith("AH_"):
        if name[3:] not in AUTHENTICATIONS:
            raise _unknown(whole)
        return Transform("AH", name[3:], None, None, seconds, kbytes, dh)
    if name.startswith("ESP_"):
        enc, auth = _parse_esp(name, whole)
        return Transform("ESP", None, enc, auth, seconds, kbytes, dh)
    raise _unknown(whole)


@dataclass(frozen=True, slots=True)
class Action:
    """PASS, DISCARD, or IPsec with transforms in preference order (first most preferred)."""

    verdict: Literal["PASS", "DISCARD", "IPSEC"]
    transforms: tuple[Transform, ...] = ()

    @property
    def is_ipsec(self) -> bool:
        return self.verdict == "IPSEC"

    def __str__(self) -> str:
        if self.verdict != "IPSEC":
            return self.verdict
        return ",".join(str(t) for t in self.transforms)

    def to_json(self) -> str | list[str]:
        return self.verdict if self.verdict != "IPSEC" else [str(t) for t in self.transforms]


PASS = Action("PASS")
DISCARD = Action("DISCARD")


def parse_action(items: list[str] | str) -> Action:
    """PASS, DISCARD, or a transform list (a list, or one comma-separated string)."""
    if isinstance(items, str):
        raw = items.strip()
        if raw.upper() in ("PASS", "DISCARD"):
            return PASS if raw.upper() == "PASS" else DISCARD
        items = [part for part in raw.split(",")]
    if not items:
        raise InputError("the action is empty: PASS, DISCARD or a list of transforms")
    if any(str(i).strip().upper() in ("PASS", "DISCARD") for i in items) and len(items) > 1:
        raise InputError("PASS or DISCARD cannot be combined with transforms")
    if len(items) == 1 and str(items[0]).strip().upper() in ("PASS", "DISCARD"):
        return parse_action(str(items[0]))
    transforms = tuple(parse_transform(str(item)) for item in items)
    check_transform_list(transforms)
    return Action("IPSEC", transforms)


def check_transform_list(transforms: tuple[Transform, ...]) -> None:
    """The guide's limits: up to 2 AH, or up to 25 ESP, or exactly one nested AH+ESP."""
    kinds = {t.kind for t in transforms}
    if len(kinds) > 1:
        raise InputError(
            "a transform list holds only AH transforms, only ESP transforms, or one nested "
            f"AH+ESP transform; this one mixes {' and '.join(sorted(kinds))}"
        )
    kind = next(iter(kinds))
    limit = {"AH": MAX_AH, "ESP": MAX_ESP, "AH+ESP": 1}[kind]
    if len(transforms) > limit:
        raise InputError(
            f"{len(transforms)} {kind} transforms: the guide allows at most {limit} "
            f"{'nested pair' if kind == 'AH+ESP' else kind + ' transforms'} in one action"
        )
    seen: set[tuple[str, str | None, str | None, str | None, str | None]] = set()
    for t in transforms:
        if t.algorithms in seen:
            raise InputError(f"transform '{t.name}' is listed twice")
        seen.add(t.algorithms)
