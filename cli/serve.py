"""`gongfu serve`: run the atlas under uvicorn."""

from __future__ import annotations

import typer

from cli.errors import bilingual_errors

# The ASGI factory served: create_app() with cached tiles answered in front of FastAPI.
SERVING_APP = "api.app:serving_app"


@bilingual_errors
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1, min=1, help="Worker processes (use with "
                                "GONGFU_DATABASE_URL: each keeps its own caches)"),
) -> None:
    """Serve the atlas (map at /, OGC API Features at /collections)."""
    import uvicorn

    # The app reads its store from GONGFU_DATABASE_URL / GONGFU_STORE_PATH in each worker.
    uvicorn.run(SERVING_APP, factory=True, host=host, port=port, workers=workers)
