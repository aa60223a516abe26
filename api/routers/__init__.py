"""HTTP routers, one module per concern. A router translates HTTP to calls into `layers/`
(and `maps/` for pages) and back; it imports `api.deps`, `api.negotiation`, `api.pages`,
`api.query` and `api.upload_stream`, never another router."""
