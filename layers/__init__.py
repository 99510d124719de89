"""The grid as spatial layers: schema, import and validation, the network model, the demo county."""
