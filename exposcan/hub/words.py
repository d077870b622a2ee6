"""The hub pages' words, in English and French.

The page's language: ``?lang=fr|en``, else the ``lang`` cookie it set,
else the browser's first ``Accept-Language`` that we speak, else English.
"""

from __future__ import annotations

LANGS = ("en", "fr")

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "exposcan hub",
        "sites": "Sites",
        "site": "Site",
        "internet": "Images reachable from the internet",
        "lan": "Images readable on the practice network",
        "last_report": "Last report",
        "new": "New since the previous report",
        "never": "never",
        "yes": "yes",
        "no": "no",
        "unknown": "not known",
        "all": "All sites",
        "new_critical": "New critical this week",
        "stale": "Stale: no report for",
        "days": "days",
        "filter": "Show",
        "history": "History",
        "report": "Report",
        "latest_report": "Latest report",
        "open": "open",
        "diff": "Compare two runs",
        "older": "Older",
        "newer": "Newer",
        "compare": "Compare",
        "added": "New",
        "gone": "Resolved",
        "kept": "Unchanged",
        "evidence": "Audit evidence",
        "evidence_intro": "Every audit of this site received by the hub, with its date "
        "and its verdicts. Print this page to file it.",
        "finished": "Scan finished",
        "received": "Received",
        "complete": "Complete",
        "vantage": "Vantage",
        "counts": "Findings by severity",
        "login": "Log in",
        "logout": "Log out",
        "user": "User name",
        "password": "Password",
        "bad_login": "Wrong user name or password.",
        "limited": "Too many failed logins: wait a few minutes.",
        "no_sites": "No site matches.",
        "no_reports": "No report yet.",
        "printed": "Printed",
        "stale_flag": "stale",
        "nothing": "no change",
    },
    "fr": {
        "title": "exposcan hub",
        "sites": "Cabinets",
        "site": "Cabinet",
        "internet": "Images accessibles depuis internet",
        "lan": "Images lisibles sur le réseau du cabinet",
        "last_report": "Dernier rapport",
        "new": "Nouveau depuis le rapport précédent",
        "never": "jamais",
        "yes": "oui",
        "no": "non",
        "unknown": "inconnu",
        "all": "Tous les cabinets",
        "new_critical": "Nouveau critique cette semaine",
        "stale": "Muets : aucun rapport depuis",
        "days": "jours",
        "filter": "Afficher",
        "history": "Historique",
        "report": "Rapport",
        "latest_report": "Dernier rapport",
        "open": "ouvrir",
        "diff": "Comparer deux analyses",
        "older": "Ancienne",
        "newer": "Récente",
        "compare": "Comparer",
        "added": "Nouveaux",
        "gone": "Corrigés",
        "kept": "Inchangés",
        "evidence": "Preuves d'audit",
        "evidence_intro": "Tous les audits de ce cabinet reçus par le hub, avec leur date "
        "et leurs verdicts. Imprimez cette page pour l'archiver.",
        "finished": "Analyse terminée",
        "received": "Reçu",
        "complete": "Complète",
        "vantage": "Point de vue",
        "counts": "Constats par gravité",
        "login": "Se connecter",
        "logout": "Se déconnecter",
        "user": "Identifiant",
        "password": "Mot de passe",
        "bad_login": "Identifiant ou mot de passe incorrect.",
        "limited": "Trop d'échecs de connexion : patientez quelques minutes.",
        "no_sites": "Aucun cabinet ne correspond.",
        "no_reports": "Aucun rapport pour l'instant.",
        "printed": "Imprimé le",
        "stale_flag": "muet",
        "nothing": "aucun changement",
    },
}


def pick_lang(query: str | None, cookie: str | None, accept: str) -> str:
    for value in (query, cookie):
        if value in LANGS:
            return str(value)
    for part in accept.split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGS:
            return tag
    return "en"
