"""Words for the donations' vocabularies that more than one service shows: a donor's kind and a
donation's channel, in the reader's language (the catalogue, shared/translations). The donations
pages and the programmes' public pages read them here, so a donation reads the same on both."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

DONOR_KIND_LABELS = {"individual": _l("Individual"), "enterprise": _l("Company"),
                     "organization": _l("Social organisation")}
CHANNEL_LABELS = {"bank": _l("Bank transfer"), "cash": _l("Cash"), "wechat": _l("WeChat Pay"), "alipay": _l("Alipay"),
                  "in_kind": _l("Gift in kind")}
