"""Database layer: engine, the request's session (the only commit), base model, tenancy."""
