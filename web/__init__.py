"""The outermost layer: application factory, HTTP API, pages, command line."""
