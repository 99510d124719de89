"""The FastAPI app, authentication and the command line."""
