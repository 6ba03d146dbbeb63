"""Selection: candidate banners per user and the policy that picks one, with its propensity."""
