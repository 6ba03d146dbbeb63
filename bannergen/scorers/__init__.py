"""Scorers: turn user profiles into item scores, then apply the campaign rules in scoring/."""
