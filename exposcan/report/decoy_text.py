"""A decoy label in the report's language: the honeypot and the signs that
matched, worded from the catalogue's decoy files (their ``en``/``fr``); a
sign this catalogue does not know keeps the English the JSON carries."""

from __future__ import annotations

from exposcan.catalogue import Catalogue
from exposcan.models import DecoyLabel
from exposcan.report.i18n import Texts
from exposcan.software.decoys import sign_texts


def decoy_text(label: DecoyLabel, texts: Texts, catalogue: Catalogue) -> str:
    words = catalogue.derived(sign_texts)
    why = [
        words.get(code, {}).get(texts.lang) or english
        for code, english in zip(label.signs, label.why or label.signs, strict=False)
    ]
    return texts("decoy.label", honeypot=label.honeypot, why="; ".join(why))
