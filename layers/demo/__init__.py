"""The demo county: a deterministic, seeded, realistic county grid."""
