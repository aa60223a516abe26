"""The HTTP face of the atlas: a thin FastAPI app over the Store."""
