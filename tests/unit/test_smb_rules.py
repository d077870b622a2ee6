"""The SMB rules of the catalogue over the facts the probe records."""

from __future__ import annotations

from exposcan.catalogue import default_catalogue
from exposcan.findings import evaluate
from exposcan.models import Vantage
from exposcan.state import Fact


def share_fact(name: str, imaging: int, health: int = 0) -> Fact:
    return Fact(
        "smb.share",
        "198.18.0.20",
        445,
        "smb",
        {
            "share": name,
            "session": "guest",
            "readable": True,
            "imaging_files": imaging,
            "imaging_folders": 1 if imaging else 0,
            "health_data_files": health,
            "health_data_kinds": ["hprim"] if health else [],
            "files_seen": 3,
            "folders_seen": 1,
            "truncated": False,
            "cut_by": [],
            "readable_shares": [name],
            "imaging_shares": [name] if imaging else [],
        },
    )


def rules_for(*facts: Fact) -> dict[str, dict[str, object]]:
    found = evaluate(default_catalogue(), facts, Vantage.LAN)
    return {f.rule: dict(f.evidence) for f in found}


def test_share_with_imaging_is_high_and_without_is_medium():
    # Given one readable share with images and one without
    with_images = rules_for(share_fact("imagerie", 8))
    without = rules_for(share_fact("public", 0))
    # Then each maps to its own rule, with the share name and counts
    assert set(with_images) == {"smb.guest-share-imaging"}
    assert with_images["smb.guest-share-imaging"]["imaging_files"] == 8
    assert set(without) == {"smb.guest-access"}
    assert without["smb.guest-access"]["share"] == "public"


def test_smb1_rule_needs_acceptance():
    accepted = Fact("smb.negotiate", "198.18.0.20", 445, "smb", {"smb1": True})
    refused = Fact("smb.negotiate", "198.18.0.20", 445, "smb", {"smb1": False})
    unknown = Fact("smb.negotiate", "198.18.0.20", 445, "smb", {"smb1": None})
    assert set(rules_for(accepted)) == {"smb.v1"}
    assert rules_for(refused) == {} and rules_for(unknown) == {}


def test_share_with_health_data_is_high_and_not_merely_readable():
    # Given a readable share with laboratory results and no images
    found = rules_for(share_fact("resultats", 0, health=3))
    # Then the health-data twin fires (high) with counts and kinds, and the
    # "merely readable" medium finding does not
    assert set(found) == {"smb.guest-share-health-data"}
    assert found["smb.guest-share-health-data"]["health_data_files"] == 3
    assert found["smb.guest-share-health-data"]["health_data_kinds"] == ["hprim"]


def test_share_evidence_says_the_dialect_it_was_read_over():
    # Given an imaging share read over SMB1 (an NT1-only server)
    fact = share_fact("images", 4)
    fact.data["dialect"] = "NT LM 0.12"
    # When the rules run, Then the finding says so, as for any other share
    found = rules_for(fact)
    assert found["smb.guest-share-imaging"]["dialect"] == "NT LM 0.12"
