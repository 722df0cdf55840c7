"""Tether: sales engagement with a two-way Salesforce integration."""
