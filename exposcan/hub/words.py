"""The hub pages' words (catalogue data: probes/hub/words.yaml) and language.

The page's language: ``?lang=fr|en``, else the ``lang`` cookie it set,
else the browser's first ``Accept-Language`` that we speak, else English.
"""

from __future__ import annotations

LANGS = ("en", "fr")


def hub_words(lang: str) -> dict[str, str]:
    """The hub pages' words in ``lang`` (catalogue data, ``hub.*`` keys of
    the report words), by their short key."""
    from exposcan.report.i18n import report_words

    prefix = "hub."
    return {k[len(prefix) :]: v for k, v in report_words()[lang].items() if k.startswith(prefix)}


def pick_lang(query: str | None, cookie: str | None, accept: str) -> str:
    for value in (query, cookie):
        if value in LANGS:
            return str(value)
    for part in accept.split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGS:
            return tag
    return "en"
