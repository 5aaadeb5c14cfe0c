"""HTTP: blueprints, request parsing and responses. Routes stay thin and call the service."""
