"""Privacy: pseudonymous user ids at rest, forgetting a user everywhere, consent and retention.

A user id from outside (an events file, the HTTP API, the command line) is replaced on entry by a
keyed hash of it (HMAC-SHA256 under the project secret, ``bannergen.privacy.pseudonyms``); every
stage after that, and everything written under ``.bannergen/``, the stores and the decision logs
under ``out/``, sees only the pseudonym. Only the assignments tables a render hands to the CMS keep
the raw id (mapped back in memory for the users of that run), unless ``[privacy]
hashed_assignments`` says the CMS computes the hash itself.

    pseudonyms.py   the keyed hash and where its secret comes from
    lists.py        the forgotten list and the consent records (pseudonyms only, in .bannergen/)
    guard.py        what a load of the shop's events applies: hash, skip forgotten, honour consent
    outputs.py      rewriting the assignments and candidates tables under out/ without some users
    forget.py       `bannergen forget` and POST /v1/forget: every record of some users, everywhere
    retention.py    `bannergen compact`: behaviour and decisions older than retention_days
    rekey.py        `bannergen privacy rekey`: pseudonyms under a new secret, offline
"""
