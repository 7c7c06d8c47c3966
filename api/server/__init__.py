"""Running the API in uvicorn (``kb serve``): deadlines for slow clients, a cap on each address's
connections, and which proxies' forwarded headers are believed."""
