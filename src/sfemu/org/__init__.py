"""Orgs, editions, users, profiles, limits and id generation."""
