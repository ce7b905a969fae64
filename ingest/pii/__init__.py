"""Finding and redacting personal data: the per-tenant policy, the recognisers (by entity family),
and the detector and operators that replace what they find."""
