"""The console's web layer: pages, REST API, authentication, templates and static files."""
