"""The report's own words in English and French; the rules' words are in the
catalogue (``info`` in English, ``info.i18n.fr``).

Every string here is plain text with ``{name}`` fields: the HTML template
escapes whatever it is given, so a translation never carries markup, and a
value from the network put into a field cannot either.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from exposcan.catalogue import LANGUAGES
from exposcan.models import ScanInfo
from exposcan.notes import render_note

DEFAULT_LANG = "en"


def default_lang(env: Mapping[str, str] | None = None) -> str:
    """The language of the user's locale: POSIX precedence (LC_ALL, then
    LC_MESSAGES, then LANG); French when it starts with ``fr``, else English."""
    env = os.environ if env is None else env
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            return "fr" if value.lower().startswith("fr") else DEFAULT_LANG
    return DEFAULT_LANG


def check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; use one of {', '.join(LANGUAGES)}")
    return lang


TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Exposure of medical images: scan report",
        "subtitle": "{vantage} scan of {targets}, {date}",
        "vantage.lan": "Practice network",
        "vantage.internet": "Internet-side",
        "incomplete": "This scan was interrupted: the report holds only what was gathered "
        "until then.",
        "q.internet": "Can patient images be reached from the internet?",
        "q.lan": "Can anyone on the practice network reach patient images?",
        "q.actions": "What to do first",
        "a.yes": "Yes",
        "a.no": "No",
        "a.unknown": "Not known from here",
        "a.internet.proven": "From outside the practice, {count} service(s) serve "
        "medical images: {where}.",
        "a.internet.forward": "The internet box forwards internet ports to {count} "
        "imaging service(s): {where}.",
        "a.internet.none": "Not on the ports scanned from outside ({ports}).",
        "a.internet.unknown": "This scan was made inside the practice, and the box listed no "
        "forward to an imaging service. Forwards set by hand in the "
        "box's pages are invisible from inside: only a view from outside "
        "answers this question (exposcan scan --outside URL, a reflector).",
        "a.internet.seen": "Seen from the internet on {date}: {count} public port(s) lead to "
        "medical images: {where}.",
        "a.internet.none-outside": "From the internet, on {date}, nothing answered on the "
        "{tried} ports tried.",
        "a.internet.none-other": "From the internet, on {date}, no imaging service answered "
        "on the {tried} ports tried ({answered} other port(s) answered).",
        "a.internet.loopback": "Seen through the box's NAT loopback, from inside (an "
        "indication, not proof): {count} public port(s) lead to medical images: {where}. "
        "Only a view from outside proves it (exposcan scan --outside URL).",
        "a.internet.cgnat": "The box forwards ports to {count} imaging service(s) ({where}), "
        "but its WAN address {wan} is private or shared (carrier-grade NAT): those IPv4 "
        "forwards cannot be reached from the internet. A change of line or offer would "
        "open them.",
        "a.internet.failed": "The view from outside failed ({error}), and the box listed no "
        "forward to an imaging service: hand-set forwards are invisible from inside.",
        "a.no-ipv4": "Not over IPv4",
        "a.probably": "Probably",
        "a.lan.yes": "Any computer of the network (or malware on it) can read images "
        "from {count} service(s): {where}.",
        "a.lan.no": "No service found on this network serves images without credentials.",
        "a.not-probed": "Not assessed: this scan listed open ports only (--no-probes); "
        "what serves behind them was not checked.",
        "a.lan.unknown": "Not assessed: this scan was made from the internet. Run exposcan on "
        "a computer of the practice to answer.",
        "kind.dicom": "DICOM query",
        "kind.pacs-web": "PACS web without password",
        "kind.listing": "web directory listing",
        "kind.share": "file share without password",
        "kind.ftp": "anonymous FTP zone",
        "kind.default-account": "PACS web default account",
        "kind.service": "imaging service",
        "action.close-forwards": "Close the internet box's forwards to {where} today, and "
        "give remote access only through a VPN.",
        "action.close-public": "Close these public ports today (the internet box's forwards "
        "or DMZ to them): {where}; give remote access only through a "
        "VPN.",
        "action.ipv6-firewall": "Turn the internet box's IPv6 firewall on (block inbound "
        "connections), or bind the PACS to IPv4 and the LAN only: these imaging services "
        "answer on global IPv6 addresses ({where}).",
        "action.assess-breach": "Assess whether this is a personal data breach: if patient "
        "images were reachable, notify the CNIL within 72 hours "
        "(GDPR art. 33) and record it.",
        "action.scan-from-outside": "Check from outside: run the scan again with --outside "
        "URL (a reflector that scans the practice back from the internet), or, from a "
        "connection that is not the practice's, run exposcan scan --vantage internet on "
        "the practice's public address.",
        "action.scan-from-lan": "Scan from inside too: run exposcan on a computer of the "
        "practice to see what anyone on its network reaches.",
        "action.lock-pacs": "Require credentials on the PACS and DICOM nodes ({where}): "
        "known modalities and viewers only.",
        "action.lock-shares": "Remove guest access from the shares ({where}).",
        "action.lock-ftp": "Turn anonymous FTP off and require TLS with named accounts ({where}).",
        "action.remove-listing": "Turn the web directory listing off and move the images out "
        "of the web root ({where}).",
        "action.disable-upnp": "Turn UPnP (IGD) off on the internet box ({where}).",
        "action.upgrade": "Upgrade the software with known vulnerabilities ({where}).",
        "action.smb1-off": "Turn SMB version 1 off ({where}).",
        "action.encrypt": "Encrypt the links that carry images (HTTPS, DICOM over TLS) ({where}).",
        "action.more": "and {count} more place(s)",
        "counts": "Findings by severity",
        "severity.critical": "Critical",
        "severity.high": "High",
        "severity.medium": "Medium",
        "severity.low": "Low",
        "severity.info": "Information",
        "outside.title": "Seen from outside",
        "outside.public-door": "public port",
        "outside.how": "seen",
        "outside.lan": "LAN service behind it",
        "outside.what": "what answered",
        "outside.joined-by": "joined by",
        "outside.box": "the box",
        "outside.seen.internet": "from the internet (proof)",
        "outside.seen.loopback": "through the box's NAT loopback (indicative)",
        "outside.not-joined": "not joined",
        "outside.not-joined.candidates": "not joined ({count} candidates: {candidates})",
        "outside.upnp.listed": "listed by UPnP",
        "outside.upnp.not-listed": "not listed by UPnP (set by hand, or a DMZ)",
        "outside.done": "The reflector {reflector} scanned the practice's public address "
        "back on {date}: {tried} TCP ports tried.",
        "outside.failed": "The outside view could not be had from {reflector}: {error}",
        "outside.incomplete": "Its deadline cut that scan: what it saw open is proven, a port "
        "it did not see open is not proven closed.",
        "outside.public": "Public address of the practice: {address}.",
        "outside.disagree": "The reflector saw the practice come from {source}, but the box "
        "gives its public address as {wan}: another router or the operator's NAT stands "
        "between them.",
        "outside.cgnat": "The box's WAN address {wan} is private or shared (carrier-grade NAT, "
        "RFC 6598): its IPv4 forwards cannot be reached from the internet.",
        "outside.loopback": "The public address was also tried from inside (NAT loopback) on "
        "{tried} ports.",
        "outside.none": "Nothing answered from outside.",
        "map.seen": "internet :{port}",
        "map.looped": "loopback :{port}",
        "map.title": "The network and its exposure paths",
        "map.caption": "Hosts and their open services; red: a service that gives images to "
        "whoever reaches it, and the paths that lead to it. {hidden}",
        "map.hidden": "{count} host(s) with no open port are not drawn.",
        "map.internet": "Internet",
        "map.box": "Internet box",
        "map.box.unknown": "Internet box (not seen)",
        "map.lan": "Practice network",
        "map.public": "Public address(es) scanned",
        "map.forward": "forward {port}",
        "map.reached": "reached",
        "map.more": "+{count} more",
        "map.noport": "no open port",
        "findings.title": "Findings",
        "findings.none": "No finding.",
        "finding.where": "Where",
        "finding.means": "What it means for the practice",
        "finding.proof": "Proof (counts only, no patient data)",
        "finding.remediation": "What to do",
        "finding.see": "Step by step for the product concerned:",
        "products.title": "Step by step, product by product",
        "products.intro": "What to change on each product this scan found, in the order of "
        "the findings that call for it.",
        "finding.legal": "Legal frame",
        "finding.references": "References",
        "finding.intrusive": "Found by an intrusive check (run with --intrusive).",
        "legal.breach": "GDPR art. 32 requires security appropriate to the risk: limit network "
        "flows to what is strictly necessary, encrypt, control access. Images "
        "readable by whoever reaches them are a personal data breach to assess "
        "and, if they could be reached, to notify to the CNIL within 72 hours "
        "(art. 33). The CNIL fined two doctors for exactly this in December "
        "2020 (SAN-2020-014, SAN-2020-015).",
        "legal.security": "GDPR art. 32 requires security appropriate to the risk. The CNIL's "
        "guidance for practices (référentiel cabinets médicaux et "
        "paramédicaux, délibération 2020-081; personal data security guide, "
        "2024) asks for remote access through a VPN, no administration "
        "interface reachable from the internet, network flows limited to "
        "the strict minimum, and encryption.",
        "hosts.title": "Hosts and services",
        "hosts.host": "Host",
        "hosts.port": "Port",
        "hosts.protocol": "Protocol",
        "hosts.product": "Product",
        "hosts.version": "Version",
        "hosts.tls": "TLS",
        "hosts.found_by": "Found by",
        "errors.title": "Probe errors",
        "errors.intro": "Services that did not answer as expected (a slow, hostile or broken "
        "service); each one cost a bounded time.",
        "errors.where": "Where",
        "errors.probe": "Probe",
        "errors.reason": "Reason",
        "notes.title": "Notes on this scan",
        "scan.title": "About this scan",
        "scan.started": "Started",
        "scan.finished": "Finished",
        "scan.vantage": "Vantage",
        "scan.vantage.lan": "inside the practice network (lan)",
        "scan.vantage.internet": "from the internet (internet)",
        "scan.targets": "Targets",
        "scan.ports": "Ports",
        "scan.hosts": "Hosts scanned",
        "scan.tool": "Tool",
        "yes": "yes",
        "decoy.label": "Likely decoy ({honeypot}): {why}",
        "decoy.short": "likely decoy",
        "hosts.toolkit": "built on or known through",
        "no": "no",
        "footer": "This report holds no patient data: counts, ports, products, versions and "
        "share names only. It says where a practice's images are open: keep it "
        "private (the file is readable by its owner only).",
        "terminal.report": "Full report",
        "terminal.findings": "Findings by severity",
        "terminal.severity": "severity",
        "terminal.finding": "finding",
        "terminal.evidence": "evidence",
        "terminal.aggregated": "{count} findings of this kind on this host, ports {ports}: "
        "the JSON and HTML reports list each",
    },
    "fr": {
        "title": "Exposition des images médicales : rapport d'analyse",
        "subtitle": "Analyse {vantage} de {targets}, {date}",
        "vantage.lan": "du réseau du cabinet",
        "vantage.internet": "côté internet",
        "incomplete": "Cette analyse a été interrompue : le rapport ne contient que ce qui a "
        "été recueilli jusque-là.",
        "q.internet": "Les images des patients sont-elles accessibles depuis internet ?",
        "q.lan": "N'importe qui sur le réseau du cabinet peut-il atteindre les images des "
        "patients ?",
        "q.actions": "Que faire d'abord",
        "a.yes": "Oui",
        "a.no": "Non",
        "a.unknown": "Inconnu d'ici",
        "a.internet.proven": "Depuis l'extérieur du cabinet, {count} service(s) "
        "servent des images médicales : {where}.",
        "a.internet.forward": "La box internet redirige des ports internet vers {count} "
        "service(s) d'imagerie : {where}.",
        "a.internet.none": "Pas sur les ports analysés depuis l'extérieur ({ports}).",
        "a.internet.unknown": "Cette analyse a été faite à l'intérieur du cabinet, et la box "
        "n'a listé aucune redirection vers un service d'imagerie. Les "
        "redirections réglées à la main dans les pages de la box sont "
        "invisibles de l'intérieur : seule une vue depuis "
        "l'extérieur répond à cette question (exposcan scan --outside URL, un réflecteur).",
        "a.internet.seen": "Vu depuis internet le {date} : {count} port(s) public(s) mènent à "
        "des images médicales : {where}.",
        "a.internet.none-outside": "Depuis internet, le {date}, rien n'a répondu sur les "
        "{tried} ports essayés.",
        "a.internet.none-other": "Depuis internet, le {date}, aucun service d'imagerie n'a "
        "répondu sur les {tried} ports essayés ({answered} autre(s) port(s) ont répondu).",
        "a.internet.loopback": "Vu à travers la boucle NAT de la box, depuis l'intérieur (une "
        "indication, pas une preuve) : {count} port(s) public(s) mènent à des images "
        "médicales : {where}. Seule une vue depuis l'extérieur le prouve (exposcan scan "
        "--outside URL).",
        "a.internet.cgnat": "La box redirige des ports vers {count} service(s) d'imagerie "
        "({where}), mais son adresse WAN {wan} est privée ou partagée (NAT de l'opérateur, "
        "CGNAT) : ces redirections IPv4 ne sont pas joignables depuis internet. Un "
        "changement de ligne ou d'offre les ouvrirait.",
        "a.internet.failed": "La vue depuis l'extérieur a échoué ({error}), et la box n'a listé "
        "aucune redirection vers un service d'imagerie : les redirections réglées à la main "
        "sont invisibles de l'intérieur.",
        "a.no-ipv4": "Pas en IPv4",
        "a.probably": "Probablement",
        "a.lan.yes": "N'importe quel ordinateur du réseau (ou un logiciel malveillant "
        "installé dessus) peut lire des images sur {count} service(s) : {where}.",
        "a.lan.no": "Aucun service de ce réseau ne sert d'images sans identifiants.",
        "a.not-probed": "Non évalué : cette analyse n'a listé que les ports ouverts "
        "(--no-probes) ; ce qu'ils servent n'a pas été vérifié.",
        "a.lan.unknown": "Non évalué : cette analyse a été faite depuis internet. Lancer "
        "exposcan sur un ordinateur du cabinet pour répondre.",
        "kind.dicom": "requête DICOM",
        "kind.pacs-web": "PACS web sans mot de passe",
        "kind.listing": "listing de répertoire web",
        "kind.share": "partage de fichiers sans mot de passe",
        "kind.ftp": "zone FTP anonyme",
        "kind.default-account": "compte par défaut du PACS web",
        "kind.service": "service d'imagerie",
        "action.close-forwards": "Fermer dès aujourd'hui les redirections de la box internet "
        "vers {where}, et ne donner l'accès à distance que par un "
        "VPN.",
        "action.close-public": "Fermer dès aujourd'hui ces ports publics (les redirections ou "
        "la DMZ de la box internet qui y mènent) : {where} ; ne donner "
        "l'accès à distance que par un VPN.",
        "action.ipv6-firewall": "Activer le pare-feu IPv6 de la box internet (bloquer les "
        "connexions entrantes), ou limiter le PACS à IPv4 et au réseau local : ces services "
        "d'imagerie répondent sur des adresses IPv6 publiques ({where}).",
        "action.assess-breach": "Évaluer s'il s'agit d'une violation de données personnelles : "
        "si des images de patients étaient accessibles, la notifier à "
        "la CNIL dans les 72 heures (RGPD art. 33) et l'inscrire au "
        "registre des violations.",
        "action.scan-from-outside": "Vérifier depuis l'extérieur : relancer l'analyse avec "
        "--outside URL (un réflecteur qui analyse le cabinet depuis internet), ou, depuis "
        "une connexion qui n'est pas celle du cabinet, lancer exposcan scan --vantage "
        "internet sur l'adresse publique du cabinet.",
        "action.scan-from-lan": "Analyser aussi de l'intérieur : lancer exposcan sur un "
        "ordinateur du cabinet pour voir ce que n'importe qui atteint "
        "sur son réseau.",
        "action.lock-pacs": "Exiger des identifiants sur le PACS et les nœuds DICOM ({where}) : "
        "uniquement les modalités et visionneuses connues.",
        "action.lock-shares": "Retirer l'accès invité des partages ({where}).",
        "action.lock-ftp": "Désactiver le FTP anonyme et exiger TLS avec des comptes "
        "nominatifs ({where}).",
        "action.remove-listing": "Désactiver le listing de répertoire web et sortir les images "
        "de la racine du site ({where}).",
        "action.disable-upnp": "Désactiver UPnP (IGD) sur la box internet ({where}).",
        "action.upgrade": "Mettre à jour les logiciels aux vulnérabilités connues ({where}).",
        "action.smb1-off": "Désactiver SMB version 1 ({where}).",
        "action.encrypt": "Chiffrer les liaisons qui transportent des images (HTTPS, DICOM "
        "sur TLS) ({where}).",
        "action.more": "et {count} autre(s) emplacement(s)",
        "counts": "Constats par gravité",
        "severity.critical": "Critique",
        "severity.high": "Élevée",
        "severity.medium": "Moyenne",
        "severity.low": "Faible",
        "severity.info": "Information",
        "outside.title": "Vu de l'extérieur",
        "outside.public-door": "port public",
        "outside.how": "vu",
        "outside.lan": "service du réseau derrière",
        "outside.what": "ce qui a répondu",
        "outside.joined-by": "rapproché par",
        "outside.box": "la box",
        "outside.seen.internet": "depuis internet (preuve)",
        "outside.seen.loopback": "à travers la boucle NAT de la box (indication)",
        "outside.not-joined": "non rapproché",
        "outside.not-joined.candidates": "non rapproché ({count} candidats : {candidates})",
        "outside.upnp.listed": "listée par UPnP",
        "outside.upnp.not-listed": "non listée par UPnP (réglée à la main, ou DMZ)",
        "outside.done": "Le réflecteur {reflector} a analysé l'adresse publique du cabinet "
        "le {date} : {tried} ports TCP essayés.",
        "outside.failed": "La vue de l'extérieur n'a pas pu être obtenue de {reflector} : {error}",
        "outside.incomplete": "Son délai a interrompu cette analyse : ce qu'elle a vu ouvert est "
        "prouvé, un port qu'elle n'a pas vu ouvert n'est pas prouvé fermé.",
        "outside.public": "Adresse publique du cabinet : {address}.",
        "outside.disagree": "Le réflecteur a vu le cabinet venir de {source}, mais la box donne "
        "{wan} comme adresse publique : un autre routeur ou le NAT de l'opérateur se trouve "
        "entre les deux.",
        "outside.cgnat": "L'adresse WAN de la box {wan} est privée ou partagée (NAT de "
        "l'opérateur, RFC 6598) : ses redirections IPv4 ne sont pas joignables depuis internet.",
        "outside.loopback": "L'adresse publique a aussi été essayée de l'intérieur (boucle NAT) "
        "sur {tried} ports.",
        "outside.none": "Rien n'a répondu depuis l'extérieur.",
        "map.seen": "internet :{port}",
        "map.looped": "boucle :{port}",
        "map.title": "Le réseau et ses chemins d'exposition",
        "map.caption": "Les machines et leurs services ouverts ; en rouge : un service qui "
        "donne des images à quiconque l'atteint, et les chemins qui y mènent. "
        "{hidden}",
        "map.hidden": "{count} machine(s) sans port ouvert ne sont pas dessinées.",
        "map.internet": "Internet",
        "map.box": "Box internet",
        "map.box.unknown": "Box internet (non vue)",
        "map.lan": "Réseau du cabinet",
        "map.public": "Adresse(s) publique(s) analysée(s)",
        "map.forward": "redirection {port}",
        "map.reached": "atteint",
        "map.more": "+{count} autres",
        "map.noport": "aucun port ouvert",
        "findings.title": "Constats",
        "findings.none": "Aucun constat.",
        "finding.where": "Où",
        "finding.means": "Ce que cela signifie pour le cabinet",
        "finding.proof": "Preuve (des nombres seulement, aucune donnée de patient)",
        "finding.remediation": "Que faire",
        "finding.see": "Pas à pas pour le produit concerné :",
        "products.title": "Pas à pas, produit par produit",
        "products.intro": "Ce qu'il faut changer sur chaque produit que cette analyse a "
        "trouvé, dans l'ordre des constats qui l'exigent.",
        "finding.legal": "Cadre légal",
        "finding.references": "Références",
        "finding.intrusive": "Trouvé par une vérification intrusive (lancée avec --intrusive).",
        "legal.breach": "Le RGPD (art. 32) exige une sécurité adaptée au risque : limiter les "
        "flux réseau au strict nécessaire, chiffrer, contrôler les accès. Des "
        "images lisibles par quiconque les atteint sont une violation de "
        "données personnelles à évaluer et, si elles ont pu être atteintes, à "
        "notifier à la CNIL dans les 72 heures (art. 33). La CNIL a sanctionné "
        "deux médecins pour exactement cela en décembre 2020 (SAN-2020-014, "
        "SAN-2020-015).",
        "legal.security": "Le RGPD (art. 32) exige une sécurité adaptée au risque. Les "
        "recommandations de la CNIL pour les cabinets (référentiel cabinets "
        "médicaux et paramédicaux, délibération 2020-081 ; guide de la "
        "sécurité des données personnelles, 2024) demandent un accès à "
        "distance par VPN, aucune interface d'administration accessible "
        "depuis internet, des flux réseau limités au strict minimum, et le "
        "chiffrement.",
        "hosts.title": "Machines et services",
        "hosts.host": "Machine",
        "hosts.port": "Port",
        "hosts.protocol": "Protocole",
        "hosts.product": "Produit",
        "hosts.version": "Version",
        "hosts.tls": "TLS",
        "hosts.found_by": "Trouvée par",
        "errors.title": "Erreurs de sonde",
        "errors.intro": "Des services qui n'ont pas répondu comme prévu (lents, hostiles ou "
        "défaillants) ; chacun n'a coûté qu'un temps borné.",
        "errors.where": "Où",
        "errors.probe": "Sonde",
        "errors.reason": "Raison",
        "notes.title": "Remarques sur cette analyse",
        "scan.title": "À propos de cette analyse",
        "scan.started": "Début",
        "scan.finished": "Fin",
        "scan.vantage": "Point de vue",
        "scan.vantage.lan": "depuis le réseau du cabinet (lan)",
        "scan.vantage.internet": "depuis internet (internet)",
        "scan.targets": "Cibles",
        "scan.ports": "Ports",
        "scan.hosts": "Machines analysées",
        "scan.tool": "Outil",
        "yes": "oui",
        "decoy.label": "Leurre probable ({honeypot}) : {why}",
        "decoy.short": "leurre probable",
        "hosts.toolkit": "repose sur ou reconnu par",
        "no": "non",
        "footer": "Ce rapport ne contient aucune donnée de patient : des nombres, des ports, "
        "des produits, des versions et des noms de partage seulement. Il dit où les "
        "images d'un cabinet sont ouvertes : gardez-le confidentiel (le fichier "
        "n'est lisible que par son propriétaire).",
        "terminal.report": "Rapport complet",
        "terminal.findings": "Constats par gravité",
        "terminal.severity": "gravité",
        "terminal.finding": "constat",
        "terminal.evidence": "preuve",
        "terminal.aggregated": "{count} constats de ce type sur cette machine, ports {ports} : "
        "les rapports JSON et HTML les détaillent",
    },
}


class Texts:
    """The words of one language."""

    def __init__(self, lang: str) -> None:
        self.lang = check_lang(lang)
        self._texts = TEXTS[lang]

    def __call__(self, key: str, **fields: object) -> str:
        text = self._texts[key]
        return text.format(**fields) if fields else text

    def notes(self, scan: ScanInfo) -> list[str]:
        """The scan's notes in this language, worded from their codes
        (:mod:`exposcan.notes`); a report from a version that wrote no codes,
        or a code this build does not know, keeps its English words."""
        if len(scan.notices) != len(scan.notes):
            return list(scan.notes)
        return [
            render_note(code, self.lang) or english
            for code, english in zip(scan.notices, scan.notes, strict=True)
        ]
