"""The web layer: the JSON API v1, the Salesforce webhook, OAuth callback, health."""
