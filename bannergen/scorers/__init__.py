"""Scorers: turn user profiles into item scores, then apply the campaign rules of scoring/campaign_rules.toml."""
