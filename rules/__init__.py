"""Rule, policy and route models, Alertmanager-syntax matchers and their evaluation."""
