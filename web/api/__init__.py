"""The HTTP JSON API: declared endpoints and their OpenAPI document."""
