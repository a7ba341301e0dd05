"""The FastAPI upload-and-query service (not built yet; see the README's "Not done yet")."""
